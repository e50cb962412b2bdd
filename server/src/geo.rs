//! Country of an address, from a CC0 IP-to-country MMDB (npm `@ip-location-db/geo-whois-asn-country-mmdb`,
//! installed by `scripts/setup.sh`). Without the database every country is unknown ("—" in the UI).

use std::net::IpAddr;
use std::path::Path;

use app::decisions::model::IpOrRange;
use serde::Deserialize;

pub struct Geo {
    reader: Option<maxminddb::Reader<Vec<u8>>>,
}

#[derive(Deserialize)]
struct Record {
    country_code: Option<String>,
}

impl Geo {
    pub fn open(path: Option<&Path>) -> Self {
        let reader = path.and_then(|p| match maxminddb::Reader::open_readfile(p) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::info!(path = %p.display(), "no country database ({e}); countries are shown as unknown");
                None
            }
        });
        Geo { reader }
    }

    pub fn country_of_ip(&self, ip: IpAddr) -> Option<String> {
        let rec: Record = self.reader.as_ref()?.lookup(ip).ok()?.decode().ok()??;
        rec.country_code.filter(|c| c.len() == 2).map(|c| c.to_ascii_uppercase())
    }

    /// A range's country is its network address's.
    pub fn country(&self, target: &IpOrRange) -> Option<String> {
        match target {
            IpOrRange::Ip(ip) => self.country_of_ip(*ip),
            IpOrRange::Range(net) => self.country_of_ip(net.network()),
        }
    }
}
