-- The Overview reads bans per bar by scenario and by country from this index alone (a covering
-- index: no table lookups); its prefix (kind, at) serves everything event_log_by_time did.
CREATE INDEX event_log_bans ON event_log (kind, at, scenario, country);
DROP INDEX event_log_by_time;
