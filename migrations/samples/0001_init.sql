-- samples schema: see internal/services/samples
CREATE SCHEMA IF NOT EXISTS samples;
