//! The hot-path reader: one thread with its own read-only SQLite connection
//! that runs the reads agent calls make (its client, the user a CIBA hint
//! names; for `/bc-authorize` only the record cache's misses and a
//! request's second try) synchronously, each a job of one hand-off instead of the
//! several a pooled sqlx query costs (docs/performance.md, "Server").
//!
//! Each statement reads the latest committed state (WAL, autocommit): a
//! read sent after a write was answered sees that write. A job must not
//! write (the connection is read-only) and must be short: jobs run one
//! after the other.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use super::{ConnectionJob, JobError};
use crate::error::Internal;

type ReadJob = Box<dyn FnOnce(&rusqlite::Connection) + Send>;

/// A handle on the reader thread of one database file.
pub struct Reader {
    jobs: mpsc::Sender<ReadJob>,
    /// Jobs sent so far (what the record cache saves is counted here).
    sent: AtomicU64,
}

impl Reader {
    /// Starts the reader of the database behind `db`: a thread with its own
    /// read-only connection to the file, which ends when the `Reader` is
    /// dropped.
    ///
    /// # Errors
    /// The connection or the thread could not be opened.
    pub fn open(db: &super::Db) -> Result<Reader, Internal> {
        let path = super::sqlite_path(db).ok_or_else(|| Internal::new("the hot-path reader is SQLite's"))?;
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(&path, flags)?;
        conn.busy_timeout(super::BUSY_TIMEOUT)?;
        let (jobs, rx) = mpsc::channel::<ReadJob>();
        std::thread::Builder::new()
            .name("countersign-reader".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    // A panicking job drops its caller's answer; the reader
                    // goes on.
                    if std::panic::catch_unwind(AssertUnwindSafe(|| job(&conn))).is_err() {
                        tracing::error!("a reader job panicked");
                    }
                }
            })
            .map_err(|e| Internal::new(format!("starting the reader: {e}")))?;
        Ok(Reader { jobs, sent: AtomicU64::new(0) })
    }

    /// How many reads were sent to the reader so far.
    #[must_use]
    pub fn reads(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Runs `f` on the reader's connection.
    ///
    /// # Errors
    /// What `f` returned, or the reader has stopped, dropped the job or not
    /// answered within the busy timeout.
    pub async fn read<R: Send + 'static, E: JobError>(&self, f: impl ConnectionJob<R, E>) -> Result<R, E> {
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<R, E>>();
        let job: ReadJob = Box::new(move |conn| {
            let _ = answer.send(f(conn));
        });
        self.jobs.send(job).map_err(|_| Internal::new("the reader has stopped"))?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        // A read stuck behind another (SQLite's busy handler) fails after the
        // busy timeout, as a write would.
        super::job_answer(answered, "reader").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_see_committed_writes_and_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open(&dir.path().join("reader.db")).await.unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER NOT NULL)").execute(&db).await.unwrap();
        let reader = Reader::open(&db).unwrap();
        let count = || reader.read(|c| Ok::<i64, Internal>(c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?));
        assert_eq!(count().await.unwrap(), 0);
        sqlx::query("INSERT INTO t (v) VALUES (1)").execute(&db).await.unwrap();
        assert_eq!(count().await.unwrap(), 1, "a read after a committed write sees it");
        let write = reader.read(|c| Ok::<usize, Internal>(c.execute("INSERT INTO t (v) VALUES (2)", [])?)).await;
        assert!(write.unwrap_err().to_string().contains("readonly"), "the reader's connection is read-only");
        // A panicking job fails its caller alone.
        let panicked = reader.read(|_| -> Result<(), Internal> { panic!("a bug in a job") }).await;
        assert!(panicked.unwrap_err().to_string().contains("dropped a job"));
        assert_eq!(count().await.unwrap(), 1, "the reader goes on after a panic");
    }
}
