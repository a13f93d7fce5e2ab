//! Opening a service's SQLite file, with every table the chapter's services use.
//!
//! Each service (the order service, the shipping consumer, the four trip participants, the
//! orchestrator) owns one database file in a temporary directory; no transaction ever spans
//! two files, as none could between two real services. For brevity every file gets the same
//! schema, and each service uses its own tables of it.

use std::path::Path;

use rusqlite::Connection;

// ANCHOR: schema
/// The tables: the outbox and the consumer's dedup table (`processed`), the order service's
/// orders, a participant's bookings, the orchestrator's saga log, and `effects`, one row per
/// side effect applied (deliberately without a unique key, so that a twice-applied effect
/// shows up as two rows instead of an error).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS processed (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bookings (saga INTEGER PRIMARY KEY, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS saga_log (
    saga INTEGER PRIMARY KEY,
    phase TEXT NOT NULL,
    idx INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS effects (id TEXT NOT NULL);
";
// ANCHOR_END: schema

/// A fresh temporary directory for one run's database files, deleted when dropped. It is in
/// `/dev/shm` (memory) where the machine has one: the chapter's crashes are process crashes,
/// which lose no written page either way, and a shared disk would make each run a hundred
/// times slower. Elsewhere it is in the system's temporary folder.
pub fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    let mut builder = tempfile::Builder::new();
    builder.prefix("uds-ch13-");
    if shm.is_dir()
        && let Ok(dir) = builder.tempdir_in(shm)
    {
        return Ok(dir);
    }
    builder.tempdir()
}

/// Opens (or creates) the database file at `path`. Reopening after a crash is this same call:
/// whatever transaction the dead connection left open is gone (rolled back when its
/// connection was dropped; after a real kill, SQLite would ignore its uncommitted log frames).
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // Write-ahead logging: a commit appends to the log instead of creating and deleting a
    // rollback journal. Process crashes only, not power failures (see the `crash` module), so
    // no fsync per commit.
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// The number of rows of `effects`, and of distinct ids among them.
pub fn effects(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    let sql = "SELECT COUNT(*), COUNT(DISTINCT id) FROM effects";
    let (n, distinct): (i64, i64) = conn.query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((n as u64, distinct as u64))
}

/// Records one applied side effect.
pub fn record_effect(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute("INSERT INTO effects (id) VALUES (?1)", [id])?;
    Ok(())
}
