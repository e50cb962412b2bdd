-- An administrator asked for a node's key to be replaced; the node does it at its next call.
ALTER TABLE fleet_nodes ADD COLUMN rotate_requested BOOLEAN NOT NULL DEFAULT FALSE;
