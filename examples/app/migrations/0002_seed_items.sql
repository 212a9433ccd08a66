-- Seed rows, and a column the release that adds it fills in.
ALTER TABLE items ADD COLUMN quantity integer NOT NULL DEFAULT 0 CHECK (quantity >= 0);
INSERT INTO items (name, quantity) VALUES
    ('anvil', 3),
    ('bucket', 12),
    ('compass', 1);
