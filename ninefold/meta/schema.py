"""Schema migrations for the SQL metadata backends.

Migrations are applied in order, each once, inside one write transaction; ``PRAGMA user_version``
(SQLite) or ``schema_migrations`` (PostgreSQL) records how many have run. Never edit a migration
that has shipped: append a new one (both lists grow together, one entry per schema version). The
schema carries versioning, delete markers, storage class, checksums, tags, encryption info and
per-chunk placement from the start.
"""

from __future__ import annotations

__all__ = ["POSTGRES_MIGRATIONS", "SQLITE_MIGRATIONS"]

SQLITE_MIGRATIONS: list[str] = [
    """
    CREATE TABLE buckets (
        name        TEXT PRIMARY KEY,
        created_at  REAL NOT NULL,
        owner       TEXT NOT NULL,
        region      TEXT NOT NULL,
        versioning  TEXT NOT NULL DEFAULT '',
        object_lock INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE objects (
        id               INTEGER PRIMARY KEY,
        bucket           TEXT NOT NULL,
        key              TEXT NOT NULL,
        version_id       TEXT NOT NULL,
        is_latest        INTEGER NOT NULL,
        is_delete_marker INTEGER NOT NULL DEFAULT 0,
        size             INTEGER NOT NULL,
        etag             TEXT NOT NULL,
        last_modified    REAL NOT NULL,
        content_type     TEXT NOT NULL,
        headers          TEXT NOT NULL DEFAULT '{}',
        user_meta        TEXT NOT NULL DEFAULT '{}',
        checksums        TEXT NOT NULL DEFAULT '{}',
        storage_class    TEXT NOT NULL DEFAULT 'STANDARD',
        part_sizes       TEXT NOT NULL DEFAULT '[]',
        tags             TEXT NOT NULL DEFAULT '{}',
        encryption       TEXT NOT NULL DEFAULT '{}',
        owner            TEXT NOT NULL DEFAULT '',
        UNIQUE (bucket, key, version_id)
    );
    CREATE INDEX objects_latest ON objects (bucket, key) WHERE is_latest = 1;
    CREATE TABLE uploads (
        upload_id          TEXT PRIMARY KEY,
        bucket             TEXT NOT NULL,
        key                TEXT NOT NULL,
        created_at         REAL NOT NULL,
        owner              TEXT NOT NULL,
        content_type       TEXT NOT NULL,
        headers            TEXT NOT NULL DEFAULT '{}',
        user_meta          TEXT NOT NULL DEFAULT '{}',
        checksum_algorithm TEXT NOT NULL DEFAULT '',
        storage_class      TEXT NOT NULL DEFAULT 'STANDARD'
    );
    CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);
    CREATE TABLE parts (
        id            INTEGER PRIMARY KEY,
        upload_id     TEXT NOT NULL REFERENCES uploads (upload_id),
        part_number   INTEGER NOT NULL,
        size          INTEGER NOT NULL,
        etag          TEXT NOT NULL,
        last_modified REAL NOT NULL,
        checksums     TEXT NOT NULL DEFAULT '{}',
        UNIQUE (upload_id, part_number)
    );
    -- exactly one of object_id / part_id is set: the owner of the chunk
    CREATE TABLE chunks (
        chunk_id   TEXT PRIMARY KEY,
        object_id  INTEGER REFERENCES objects (id),
        part_id    INTEGER REFERENCES parts (id),
        seq        INTEGER NOT NULL,
        size       INTEGER NOT NULL,
        scheme     TEXT NOT NULL,
        block_size INTEGER NOT NULL,
        stores     TEXT NOT NULL
    );
    CREATE INDEX chunks_by_object ON chunks (object_id, seq) WHERE object_id IS NOT NULL;
    CREATE INDEX chunks_by_part ON chunks (part_id, seq) WHERE part_id IS NOT NULL;
    CREATE TABLE gc_queue (
        id         INTEGER PRIMARY KEY,
        chunk_id   TEXT NOT NULL,
        size       INTEGER NOT NULL,
        scheme     TEXT NOT NULL,
        block_size INTEGER NOT NULL,
        stores     TEXT NOT NULL,
        queued_at  REAL NOT NULL
    );
    """,
    """
    CREATE TABLE cluster_nodes (
        node_id TEXT PRIMARY KEY,
        url     TEXT NOT NULL,
        zone    TEXT NOT NULL,
        drives  TEXT NOT NULL,
        weight  DOUBLE PRECISION NOT NULL,
        state   TEXT NOT NULL
    );
    CREATE TABLE cluster_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
    INSERT INTO cluster_version (id, version) VALUES (1, 0);
    """,
    # 3: node health (the health monitor's, apart from the operator's state) and the repair
    # queue: chunks with a fragment missing, found by chunk id (their record lives in chunks).
    # AUTOINCREMENT: an entry id is never reused, so a late repair_done cannot hit a newer entry
    """
    ALTER TABLE cluster_nodes ADD COLUMN health TEXT NOT NULL DEFAULT 'ok';
    ALTER TABLE cluster_nodes ADD COLUMN last_seen REAL NOT NULL DEFAULT 0;
    CREATE TABLE repair_queue (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        chunk_id  TEXT NOT NULL UNIQUE,
        reason    TEXT NOT NULL,
        queued_at REAL NOT NULL
    );
    """,
    # 4: progress of the background jobs (repair, scrub, rebalance) for `admin heal status`;
    # chunks found by store for node-loss sweeps go through chunk_id order (list_chunks)
    """
    CREATE TABLE job_status (
        job        TEXT PRIMARY KEY,
        status     TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    # 5: per-bucket configuration documents (tagging now; CORS, policy, ... later), one row
    # per (bucket, name); deleted with the bucket
    """
    CREATE TABLE bucket_config (
        bucket TEXT NOT NULL,
        name   TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (bucket, name)
    );
    """,
    # 6: Object Lock state of a version: {"mode", "until" (ISO 8601), "legal_hold"}
    "ALTER TABLE objects ADD COLUMN lock TEXT NOT NULL DEFAULT '{}';",
    # 7: the bucket policy (JSON text, "" for none) on the bucket row: every request reads it
    # with the bucket, and the gateways' cache holds the bucket record
    "ALTER TABLE buckets ADD COLUMN policy TEXT NOT NULL DEFAULT '';",
    # 8: the canned ACL of a version (private, public-read, ...)
    "ALTER TABLE objects ADD COLUMN acl TEXT NOT NULL DEFAULT 'private';",
    # 9: identities: users, access keys, groups, policies -- one JSON document per entity
    """
    CREATE TABLE iam (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        doc  TEXT NOT NULL,
        PRIMARY KEY (kind, name)
    );
    """,
    # small objects' bytes inline in their chunk row (ChunkRecord.data)
    "ALTER TABLE chunks ADD COLUMN data BLOB;",
    # multipart checksums: the checksum type an upload was created with (COMPOSITE or
    # FULL_OBJECT), and the checksums of a multipart object's parts (GetObjectAttributes)
    """
    ALTER TABLE uploads ADD COLUMN checksum_type TEXT NOT NULL DEFAULT '';
    ALTER TABLE objects ADD COLUMN part_checksums TEXT NOT NULL DEFAULT '[]';
    """,
    # uploads completed lately (CompletedUpload): a repeated CompleteMultipartUpload answers
    # what the first one did
    """
    CREATE TABLE completed_uploads (
        upload_id    TEXT PRIMARY KEY,
        bucket       TEXT NOT NULL,
        key          TEXT NOT NULL,
        parts        TEXT NOT NULL,
        etag         TEXT NOT NULL,
        version_id   TEXT NOT NULL,
        checksums    TEXT NOT NULL,
        completed_at REAL NOT NULL
    );
    CREATE INDEX completed_uploads_at ON completed_uploads (completed_at);
    """,
]

#: PostgreSQL: the same tables; keys and names use the "C" collation so that index order is byte
#: order (UTF-8 byte order = code point order), which S3 listing requires.
POSTGRES_MIGRATIONS: list[str] = [
    """
    CREATE TABLE buckets (
        name        TEXT COLLATE "C" PRIMARY KEY,
        created_at  DOUBLE PRECISION NOT NULL,
        owner       TEXT NOT NULL,
        region      TEXT NOT NULL,
        versioning  TEXT NOT NULL DEFAULT '',
        object_lock BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE TABLE objects (
        id               BIGSERIAL PRIMARY KEY,
        bucket           TEXT COLLATE "C" NOT NULL,
        key              TEXT COLLATE "C" NOT NULL,
        version_id       TEXT NOT NULL,
        is_latest        BOOLEAN NOT NULL,
        is_delete_marker BOOLEAN NOT NULL DEFAULT FALSE,
        size             BIGINT NOT NULL,
        etag             TEXT NOT NULL,
        last_modified    DOUBLE PRECISION NOT NULL,
        content_type     TEXT NOT NULL,
        headers          TEXT NOT NULL DEFAULT '{}',
        user_meta        TEXT NOT NULL DEFAULT '{}',
        checksums        TEXT NOT NULL DEFAULT '{}',
        storage_class    TEXT NOT NULL DEFAULT 'STANDARD',
        part_sizes       TEXT NOT NULL DEFAULT '[]',
        tags             TEXT NOT NULL DEFAULT '{}',
        encryption       TEXT NOT NULL DEFAULT '{}',
        owner            TEXT NOT NULL DEFAULT '',
        UNIQUE (bucket, key, version_id)
    );
    CREATE INDEX objects_latest ON objects (bucket, key) WHERE is_latest;
    CREATE TABLE uploads (
        upload_id          TEXT PRIMARY KEY,
        bucket             TEXT COLLATE "C" NOT NULL,
        key                TEXT COLLATE "C" NOT NULL,
        created_at         DOUBLE PRECISION NOT NULL,
        owner              TEXT NOT NULL,
        content_type       TEXT NOT NULL,
        headers            TEXT NOT NULL DEFAULT '{}',
        user_meta          TEXT NOT NULL DEFAULT '{}',
        checksum_algorithm TEXT NOT NULL DEFAULT '',
        storage_class      TEXT NOT NULL DEFAULT 'STANDARD'
    );
    CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);
    CREATE TABLE parts (
        id            BIGSERIAL PRIMARY KEY,
        upload_id     TEXT NOT NULL REFERENCES uploads (upload_id),
        part_number   INTEGER NOT NULL,
        size          BIGINT NOT NULL,
        etag          TEXT NOT NULL,
        last_modified DOUBLE PRECISION NOT NULL,
        checksums     TEXT NOT NULL DEFAULT '{}',
        UNIQUE (upload_id, part_number)
    );
    CREATE TABLE chunks (
        chunk_id   TEXT PRIMARY KEY,
        object_id  BIGINT REFERENCES objects (id),
        part_id    BIGINT REFERENCES parts (id),
        seq        INTEGER NOT NULL,
        size       BIGINT NOT NULL,
        scheme     TEXT NOT NULL,
        block_size INTEGER NOT NULL,
        stores     TEXT NOT NULL
    );
    CREATE INDEX chunks_by_object ON chunks (object_id, seq) WHERE object_id IS NOT NULL;
    CREATE INDEX chunks_by_part ON chunks (part_id, seq) WHERE part_id IS NOT NULL;
    CREATE TABLE gc_queue (
        id         BIGSERIAL PRIMARY KEY,
        chunk_id   TEXT NOT NULL,
        size       BIGINT NOT NULL,
        scheme     TEXT NOT NULL,
        block_size INTEGER NOT NULL,
        stores     TEXT NOT NULL,
        queued_at  DOUBLE PRECISION NOT NULL
    );
    """,
    """
    CREATE TABLE cluster_nodes (
        node_id TEXT PRIMARY KEY,
        url     TEXT NOT NULL,
        zone    TEXT NOT NULL,
        drives  TEXT NOT NULL,
        weight  DOUBLE PRECISION NOT NULL,
        state   TEXT NOT NULL
    );
    CREATE TABLE cluster_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
    INSERT INTO cluster_version (id, version) VALUES (1, 0);
    """,
    """
    ALTER TABLE cluster_nodes ADD COLUMN health TEXT NOT NULL DEFAULT 'ok';
    ALTER TABLE cluster_nodes ADD COLUMN last_seen DOUBLE PRECISION NOT NULL DEFAULT 0;
    CREATE TABLE repair_queue (
        id        BIGSERIAL PRIMARY KEY,
        chunk_id  TEXT NOT NULL UNIQUE,
        reason    TEXT NOT NULL,
        queued_at DOUBLE PRECISION NOT NULL
    );
    """,
    """
    CREATE TABLE job_status (
        job        TEXT COLLATE "C" PRIMARY KEY,
        status     TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    """,
    """
    CREATE TABLE bucket_config (
        bucket TEXT COLLATE "C" NOT NULL,
        name   TEXT COLLATE "C" NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (bucket, name)
    );
    """,
    "ALTER TABLE objects ADD COLUMN lock TEXT NOT NULL DEFAULT '{}';",
    "ALTER TABLE buckets ADD COLUMN policy TEXT NOT NULL DEFAULT '';",
    "ALTER TABLE objects ADD COLUMN acl TEXT NOT NULL DEFAULT 'private';",
    """
    CREATE TABLE iam (
        kind TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        doc  TEXT NOT NULL,
        PRIMARY KEY (kind, name)
    );
    """,
    "ALTER TABLE chunks ADD COLUMN data BYTEA;",
    """
    ALTER TABLE uploads ADD COLUMN checksum_type TEXT NOT NULL DEFAULT '';
    ALTER TABLE objects ADD COLUMN part_checksums TEXT NOT NULL DEFAULT '[]';
    """,
    """
    CREATE TABLE completed_uploads (
        upload_id    TEXT COLLATE "C" PRIMARY KEY,
        bucket       TEXT COLLATE "C" NOT NULL,
        key          TEXT COLLATE "C" NOT NULL,
        parts        TEXT NOT NULL,
        etag         TEXT NOT NULL,
        version_id   TEXT NOT NULL,
        checksums    TEXT NOT NULL,
        completed_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX completed_uploads_at ON completed_uploads (completed_at);
    """,
]
