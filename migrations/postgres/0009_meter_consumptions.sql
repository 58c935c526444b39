-- One row per applied meter reading: what was consumed since the last one and what it cost.
CREATE TABLE meter_consumptions (
    table_no TEXT NOT NULL REFERENCES meters(table_no),
    read_time BIGINT NOT NULL,
    reading BIGINT NOT NULL,
    last_reading BIGINT NOT NULL,
    last_read_time BIGINT,
    amount BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (table_no, read_time)
);
