-- The nodes that serve a proxy host: NULL for every node, otherwise node names separated by
-- commas (`central` for the central node itself).
ALTER TABLE proxy_hosts ADD COLUMN nodes TEXT;
