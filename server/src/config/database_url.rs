//! `database_url`: Charon's own database on PostgreSQL instead of the SQLite file in the data dir.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

/// The connection options of a `postgres://` URL. The error never repeats the URL (it may hold a
/// password).
pub fn parse(url: &str) -> Result<PgConnectOptions, &'static str> {
    const SHAPE: &str = "database_url must look like postgres://user:password@host:5432/dbname[?sslmode=disable|require|verify-full]";
    let url = url.trim();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(SHAPE);
    }
    PgConnectOptions::from_str(url).map_err(|_| SHAPE)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_postgres_urls_are_taken_and_the_error_hides_the_password() {
        let o = super::parse("postgres://charon:s3cret@db.example.com:6543/charon?sslmode=require").unwrap();
        assert_eq!((o.get_host(), o.get_port(), o.get_database()), ("db.example.com", 6543, Some("charon")));
        for bad in ["mysql://root:s3cret@db/charon", "sqlite://charon.db", "postgres://u:s3cret@db:notaport/x"] {
            let e = super::parse(bad).unwrap_err();
            assert!(e.starts_with("database_url must look like") && !e.contains("s3cret"), "{bad}: {e}");
        }
    }
}
