//! The request writer: one thread with its own SQLite connection that runs
//! each job's statements synchronously (no hand-off to a worker per
//! statement) and commits the jobs that are waiting together (group commit).
//! Each job runs inside a savepoint, so one job's failure undoes only its
//! own writes; every job's caller is answered after the `COMMIT` that holds
//! its writes (durable before the answer). The writer takes the database
//! file's write turn (`store::begin`'s) for each group, so it and the
//! transactions of `store::begin` never wait in SQLite's busy handler.
//! Never call it while holding a [`super::Tx`]: the group would wait for
//! the turn that transaction holds.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use tokio::sync::Mutex as AsyncMutex;

use crate::error::Internal;

/// Most jobs committed together.
const MAX_GROUP: usize = 256;

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A job: runs on the connection (`None`: the group could not begin) and
/// says whether it succeeded, and how to answer once the group's fate is known.
type Job = Box<dyn FnOnce(Option<&rusqlite::Connection>) -> (bool, Finish) + Send>;

/// A handle on the writer thread of one database file.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl From<rusqlite::Error> for Internal {
    fn from(e: rusqlite::Error) -> Self {
        Internal::new(format!("database: {e}"))
    }
}

impl Writer {
    /// Starts the writer of the database behind `db`: a thread with its own
    /// connection to the file, which ends when the `Writer` is dropped.
    ///
    /// # Errors
    /// The connection or the thread could not be opened.
    pub fn open(db: &super::Db) -> Result<Writer, Internal> {
        let not_sqlite = || Internal::new("the request writer is SQLite's");
        let path = super::sqlite_path(db).ok_or_else(not_sqlite)?;
        let turn = super::write_turn(db);
        let conn = rusqlite::Connection::open(&path)?;
        conn.busy_timeout(super::BUSY_TIMEOUT)?;
        // As `store::open`'s connections: WAL (already the file's mode),
        // NORMAL synchronisation, foreign keys. The savepoint of each job
        // journals the pages it changes: in memory, not in a temporary file
        // opened and written for every group (docs/performance.md).
        // A 64 MiB page cache keeps the indexes' hot pages (each user's
        // entries, the ends of the tables) from being read again with
        // `pread`. Checkpoints stay SQLite's (every 1,000 pages, in the
        // COMMIT that crosses it): larger ones wrote less but stalled the
        // groups behind them (docs/performance.md).
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
             PRAGMA cache_size = -65536;",
        )?;
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("countersign-writer".into())
            .spawn(move || run_thread(&conn, &rx, &turn))
            .map_err(|e| Internal::new(format!("starting the writer: {e}")))?;
        Ok(Writer { jobs })
    }
}

fn run_thread(conn: &rusqlite::Connection, rx: &mpsc::Receiver<Job>, turn: &AsyncMutex<()>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let guard = turn.blocking_lock();
        let (finishers, outcome) = run_group(conn, group);
        drop(guard);
        for finish in finishers {
            finish(outcome.clone());
        }
    }
}

/// Runs a group in one transaction, each job in a savepoint: the answers
/// to give, and the group's outcome (an error: nothing of the group is
/// stored). A savepoint statement that fails, or a transaction SQLite ended
/// on its own (a full disk), ends the group: the jobs not run yet are not
/// run, and everything is rolled back.
fn run_group(conn: &rusqlite::Connection, group: Vec<Job>) -> (Vec<Finish>, Result<(), String>) {
    let mut finishers = Vec::with_capacity(group.len());
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        finishers.extend(group.into_iter().map(|job| job(None).1));
        return (finishers, Err(format!("beginning a group: {e}")));
    }
    let mut jobs = group.into_iter();
    let mut broken = None;
    for job in jobs.by_ref() {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            finishers.push(job(None).1);
            broken = Some(format!("savepoint: {e}"));
            break;
        }
        // A panicking job is a failed one (its caller's answer is dropped
        // with it); the writer goes on.
        let ok = match std::panic::catch_unwind(AssertUnwindSafe(|| job(Some(conn)))) {
            Ok((ok, finish)) => {
                finishers.push(finish);
                ok
            }
            Err(_) => {
                tracing::error!("a request writer job panicked");
                false
            }
        };
        let undone = if ok { Ok(()) } else { conn.execute_batch("ROLLBACK TO job") };
        if let Err(e) = undone.and_then(|()| conn.execute_batch("RELEASE job")) {
            broken = Some(format!("savepoint: {e}"));
            break;
        }
        if conn.is_autocommit() {
            broken = Some("the transaction ended before its commit".to_owned());
            break;
        }
    }
    if let Some(e) = broken {
        finishers.extend(jobs.map(|job| job(None).1));
        let _ = conn.execute_batch("ROLLBACK");
        return (finishers, Err(e));
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => (finishers, Ok(())),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            (finishers, Err(format!("committing: {e}")))
        }
    }
}

impl Writer {
    /// Runs `f` on the writer's connection inside the next group; its
    /// answer comes after the group's `COMMIT` (an error of `f` undoes only
    /// its writes).
    ///
    /// # Errors
    /// What `f` returned, or the group could not begin or commit.
    pub async fn run<R, E>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<R, E> + Send + 'static,
    ) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<Internal> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<R, E>>();
        let job: Job = Box::new(move |conn| {
            let Some(conn) = conn else {
                return (
                    false,
                    Box::new(move |outcome: Result<(), String>| {
                        let e = outcome.err().unwrap_or_default();
                        let _ = answer.send(Err(Internal::new(format!("request writer: {e}")).into()));
                    }),
                );
            };
            let result = f(conn);
            let ok = result.is_ok();
            (
                ok,
                Box::new(move |outcome: Result<(), String>| {
                    let _ = answer.send(match (result, outcome) {
                        (Ok(_), Err(e)) => Err(Internal::new(format!("request writer: {e}")).into()),
                        (result, _) => result,
                    });
                }),
            )
        });
        self.jobs.send(job).map_err(|_| Internal::new("the request writer has stopped"))?;
        // As long as `store::begin` waits for the write turn; the job may
        // still commit later (as when a client hangs up).
        super::job_answer(answered, "request writer").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    async fn table() -> (tempfile::TempDir, super::super::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open(&dir.path().join("writer.db")).await.unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER NOT NULL)").execute(&db).await.unwrap();
        (dir, db)
    }

    fn insert(v: i64) -> impl FnOnce(&rusqlite::Connection) -> Result<usize, Internal> + Send + 'static {
        move |conn| Ok(conn.execute("INSERT INTO t (v) VALUES (?1)", [v])?)
    }

    async fn stored(db: &super::super::Db) -> Vec<i64> {
        sqlx::query_scalar("SELECT v FROM t ORDER BY v").fetch_all(db).await.unwrap()
    }

    // The jobs queue behind a held write turn, so they share groups; the odd
    // ones fail after their insert.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_job_undoes_only_its_own_writes() {
        let (_dir, db) = table().await;
        let writer = Arc::new(Writer::open(&db).unwrap());
        let held = super::super::begin(&db).await.unwrap();
        let tasks: Vec<_> = (0..40i64)
            .map(|i| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    writer
                        .run(move |conn| {
                            insert(i)(conn)?;
                            if i % 2 == 1 {
                                return Err(Internal::new("odd"));
                            }
                            Ok(i)
                        })
                        .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        held.commit().await.unwrap();
        for (i, task) in (0i64..).zip(tasks) {
            let answer = task.await.unwrap();
            assert_eq!(answer.is_ok(), i % 2 == 0, "job {i}: {answer:?}");
        }
        assert_eq!(stored(&db).await, (0..40).step_by(2).collect::<Vec<_>>());
    }

    // A job waits for the write turn a transaction of `store::begin` holds,
    // and is answered once its group has committed: the write is visible
    // to the pool's connections.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_waits_for_the_turn_and_is_answered_after_its_commit() {
        let (_dir, db) = table().await;
        let writer = Arc::new(Writer::open(&db).unwrap());
        let mut held = super::super::begin(&db).await.unwrap();
        sqlx::query("INSERT INTO t (v) VALUES (1)").execute(&mut *held).await.unwrap();
        let w = writer.clone();
        let mut job = tokio::spawn(async move { w.run(insert(2)).await });
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut job).await.is_err(),
            "answered while the turn was held"
        );
        held.commit().await.unwrap();
        job.await.unwrap().unwrap();
        assert_eq!(stored(&db).await, [1, 2]);
    }

    // A group whose COMMIT fails (a deferred foreign key) answers every job
    // with an error, even those that succeeded, and stores nothing of it.
    #[tokio::test]
    async fn a_failed_commit_fails_every_job_of_its_group() {
        let (_dir, db) = table().await;
        sqlx::query("CREATE TABLE p (id INTEGER PRIMARY KEY)").execute(&db).await.unwrap();
        sqlx::query("CREATE TABLE c (pid INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED)")
            .execute(&db)
            .await
            .unwrap();
        let writer = Writer::open(&db).unwrap();
        let answer = writer
            .run(|conn| {
                insert(7)(conn)?;
                Ok::<_, Internal>(conn.execute("INSERT INTO c (pid) VALUES (99)", [])?)
            })
            .await;
        let error = answer.unwrap_err().to_string();
        assert!(error.contains("committing") && error.contains("FOREIGN KEY"), "{error}");
        assert!(stored(&db).await.is_empty());
        // The writer goes on.
        writer.run(insert(8)).await.unwrap();
        assert_eq!(stored(&db).await, [8]);
    }
}
