//! The request writer: one thread with its own SQLite connection that runs
//! each job's statements synchronously (no hand-off to a worker per
//! statement) and commits the jobs that are waiting together (group commit).
//! A job of [`Writer::run`] runs inside a savepoint, so its failure undoes
//! only its own writes; one of [`Writer::run_without_savepoint`] (the hot
//! paths' jobs, which refuse before they write) does not, and its failure
//! after a write undoes its whole group. Every job's caller is answered
//! after the `COMMIT` that holds its writes (durable before the answer).
//! The writer takes the database file's write turn (`store::begin`'s) for
//! each group, so it and the transactions of `store::begin` never wait in
//! SQLite's busy handler. Never call it while holding a [`super::Tx`]: the
//! group would wait for the turn that transaction holds. A checkpointer
//! thread beside it copies the WAL into the database file
//! ([`run_checkpointer`]).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::sync::Mutex as AsyncMutex;

use super::{ConnectionJob, JobError};
use crate::error::Internal;

/// Most jobs committed together.
const MAX_GROUP: usize = 256;

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A job: runs on the connection (`None`: the group could not begin) and
/// says whether it succeeded, and how to answer once the group's fate is known.
type Run = Box<dyn FnOnce(Option<&rusqlite::Connection>) -> (bool, Finish) + Send>;

/// A job and whether it runs in a savepoint of its own.
struct Job {
    run: Run,
    savepoint: bool,
}

/// A handle on the writer thread of one database file.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// What the writer tells the checkpointer.
#[derive(Default)]
struct Progress {
    /// Jobs run in committed groups (those that failed too).
    jobs: AtomicU64,
    /// The checkpointer waits for a nudge (nothing was committed for a
    /// while), rather than looking every [`CHECKPOINT_EVERY`].
    asleep: AtomicBool,
}

impl From<rusqlite::Error> for Internal {
    fn from(e: rusqlite::Error) -> Self {
        Internal::new(format!("database: {e}"))
    }
}

impl Writer {
    /// Starts the writer of the database behind `db` and its checkpointer:
    /// threads with a connection to the file each, which end when the
    /// `Writer` is dropped.
    ///
    /// # Errors
    /// The connection or the thread could not be opened.
    pub fn open(db: &super::Db) -> Result<Writer, Internal> {
        Writer::open_restarting_at(db, CHECKPOINT_FRAMES)
    }

    /// [`Writer::open`], with the WAL started over once it holds `frames`
    /// pages (tests use fewer than [`CHECKPOINT_FRAMES`]).
    fn open_restarting_at(db: &super::Db, frames: i64) -> Result<Writer, Internal> {
        let not_sqlite = || Internal::new("the request writer is SQLite's");
        let path = super::sqlite_path(db).ok_or_else(not_sqlite)?;
        let turn = super::write_turn(db);
        let conn = rusqlite::Connection::open(&path)?;
        conn.busy_handler(Some(wait_for_lock))?;
        // As `store::open`'s connections: WAL (already the file's mode),
        // NORMAL synchronisation, foreign keys. The savepoint of a job of
        // [`Writer::run`] journals the pages it changes: in memory, not in a
        // temporary file opened and written for every group
        // (docs/performance.md).
        // A 64 MiB page cache keeps the indexes' hot pages (each user's
        // entries, the ends of the tables) from being read again with
        // `pread`. Checkpoints are the checkpointer's ([`run_checkpointer`]);
        // the writer checkpoints only if the WAL grows to
        // [`WRITER_CHECKPOINT_FRAMES`] anyway (the checkpointer stalled).
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
             PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_FRAMES};"
        ))?;
        let checkpointer = rusqlite::Connection::open(&path)?;
        checkpointer.busy_timeout(CHECKPOINT_LOCK_WAIT)?;
        checkpointer.execute_batch("PRAGMA synchronous = NORMAL;")?;
        let (jobs, rx) = mpsc::channel::<Job>();
        // The writer nudges the checkpointer through it; the writer's end
        // closing (the `Writer` dropped) ends the checkpointer.
        let (nudge, nudged) = mpsc::channel::<()>();
        let progress = Arc::new(Progress::default());
        std::thread::Builder::new()
            .name("countersign-writer".into())
            .spawn({
                let (turn, progress) = (turn.clone(), progress.clone());
                move || run_thread(&conn, &rx, &turn, &progress, &nudge)
            })
            .map_err(|e| Internal::new(format!("starting the writer: {e}")))?;
        std::thread::Builder::new()
            .name("countersign-ckpt".into())
            .spawn(move || run_checkpointer(&checkpointer, frames, &nudged, &turn, &progress))
            .map_err(|e| Internal::new(format!("starting the checkpointer: {e}")))?;
        Ok(Writer { jobs })
    }
}

fn run_thread(
    conn: &rusqlite::Connection,
    rx: &mpsc::Receiver<Job>,
    turn: &AsyncMutex<()>,
    progress: &Progress,
    nudge: &mpsc::Sender<()>,
) {
    while let Ok(first) = rx.recv() {
        let guard = turn.blocking_lock();
        let (finishers, outcome) = run_group(conn, first, rx);
        drop(guard);
        if outcome.is_ok() {
            // Sequentially consistent, with the checkpointer's side: it sets
            // `asleep` then reads `jobs`, this adds to `jobs` then reads
            // `asleep`, and at least one of the two must see the other's
            // write, or a nudge is lost.
            progress.jobs.fetch_add(finishers.len() as u64, Ordering::SeqCst);
            if progress.asleep.swap(false, Ordering::SeqCst) {
                let _ = nudge.send(());
            }
        }
        for finish in finishers {
            finish(outcome.clone());
        }
    }
}

/// The writer's busy handler: a statement that found the database locked
/// (by a connection writing outside the write turn: another process, or a
/// single statement on the pool) is tried again after [`lock_retry_in`],
/// until about [`super::BUSY_TIMEOUT`] has passed. SQLite's own handler
/// sleeps 1, 2, 5, 10 ms and more between tries, which left the lock idle
/// and the whole group waiting long after a short statement was done.
fn wait_for_lock(tries: i32) -> bool {
    match lock_retry_in(tries) {
        Some(wait) => {
            std::thread::sleep(wait);
            true
        }
        None => false,
    }
}

/// Short waits first, the ones a statement of a millisecond needs; then a
/// millisecond each; `None` once they add up to [`super::BUSY_TIMEOUT`].
fn lock_retry_in(tries: i32) -> Option<Duration> {
    const SHORT: Duration = Duration::from_micros(100);
    const SHORT_TRIES: u32 = 100;
    const LONG: Duration = Duration::from_millis(1);
    let tries = u32::try_from(tries).ok()?;
    if tries < SHORT_TRIES {
        return Some(SHORT);
    }
    let long_tries = (super::BUSY_TIMEOUT.saturating_sub(SHORT * SHORT_TRIES)).as_micros() / LONG.as_micros();
    (u128::from(tries - SHORT_TRIES) < long_tries).then_some(LONG)
}

/// WAL frames (pages, 64 MiB) after which a checkpoint finishes in the
/// write turn so that the WAL starts over (SQLite's own checkpoints come at
/// 1,000). That pass holds the turn for what it copies and syncs (about
/// 15 ms on the benchmark's disk after [`catch_up`]); under load the WAL
/// gains about 30,000 pages a second (each group rewrites the pages of the
/// users it holds), and at 1,000 the writer waited for these passes a fifth
/// of the time (docs/performance.md).
const CHECKPOINT_FRAMES: i64 = 16_384;
/// WAL frames at which the writer checkpoints in its own `COMMIT`: only when
/// the checkpointer is stalled (well above [`CHECKPOINT_FRAMES`] and what
/// the writer adds during a pass).
const WRITER_CHECKPOINT_FRAMES: i64 = 65_536;
/// How often the checkpointer looks at what the writer committed.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(20);
/// Jobs committed since the last checkpoint that start the next one...
const CHECKPOINT_JOBS: u64 = 100;
/// ...or, when fewer were, the time since the last: a quiet server is
/// not `fsync`ed at every commit.
const CHECKPOINT_QUIET: Duration = Duration::from_secs(1);
/// Passive passes at most before the pass in the write turn...
const CATCH_UP_PASSES: usize = 4;
/// ...ended early once one had fewer frames than this to copy (4 MiB).
const CATCH_UP_FRAMES: i64 = 1_000;
/// How long the pass in the write turn waits for each lock it needs (the
/// readers of the WAL to move on); past it, the pass gives up and a later
/// one tries again.
const CHECKPOINT_LOCK_WAIT: Duration = Duration::from_millis(50);

/// Copies the WAL into the database file beside the writer (SQLite's own
/// checkpoints ran in the `COMMIT` of the group crossing 1,000 pages, and
/// every group behind it waited for the copy and its `fsync`s). Every
/// [`CHECKPOINT_EVERY`], once [`CHECKPOINT_JOBS`] jobs were committed since
/// its last pass (or [`CHECKPOINT_QUIET`] passed with at least one), a
/// passive checkpoint copies what was committed when it began, without
/// waiting for the writer. Once the WAL holds [`CHECKPOINT_FRAMES`] and that
/// pass copied all of it, a last pass (`RESTART`) runs in the write turn,
/// where nothing is appended: it copies what the writer added meanwhile and
/// has the writer's next transaction start the WAL over (passive passes
/// alone let the WAL grow while the writer keeps writing). Before it, more
/// passive passes catch up outside the turn ([`catch_up`]), so that the
/// writer waits only for the copy and `fsync`s of what came last. A pass that
/// could not copy everything (a reader of an older snapshot, such as an
/// audit export) ends the checkpoint before the turn, so that a long reader
/// does not hold the write turn; such a pass is tried again a second later. With
/// nothing committed by the writer since a pass [`CHECKPOINT_QUIET`] ago,
/// the checkpointer waits for the writer's nudge (commits of `store::begin`
/// transactions do not count: their connections checkpoint on their own,
/// at SQLite's 1,000 pages).
fn run_checkpointer(
    conn: &rusqlite::Connection,
    frames: i64,
    nudged: &mpsc::Receiver<()>,
    turn: &AsyncMutex<()>,
    progress: &Progress,
) {
    // (jobs counted at the last pass that copied the whole WAL, when the
    // last pass ran).
    let mut last = (0, Instant::now());
    // The writer thread ending (the `Writer` dropped) closes the nudge
    // channel, which ends it; SQLite checkpoints the WAL when the last
    // connection to the file closes.
    loop {
        if let Err(mpsc::RecvTimeoutError::Disconnected) = nudged.recv_timeout(CHECKPOINT_EVERY) {
            return;
        }
        let jobs = progress.jobs.load(Ordering::SeqCst);
        let new = jobs.saturating_sub(last.0);
        if new == 0 && last.1.elapsed() >= CHECKPOINT_QUIET {
            progress.asleep.store(true, Ordering::SeqCst);
            // A group committed before the flag was set sent no nudge.
            if progress.jobs.load(Ordering::SeqCst) != jobs {
                progress.asleep.store(false, Ordering::SeqCst);
            } else if nudged.recv().is_err() {
                return;
            }
            continue;
        }
        if new == 0 || (new < CHECKPOINT_JOBS && last.1.elapsed() < CHECKPOINT_QUIET) {
            continue;
        }
        // A pass that could not copy everything (a reader in the way, the
        // checkpoint lock taken, an error) leaves the count where it was:
        // the next tries again a second later, even if nothing more is
        // committed.
        match checkpoint(conn, frames, turn) {
            Ok(true) => last = (jobs, Instant::now()),
            Ok(false) => last.1 = Instant::now(),
            Err(e) => {
                tracing::warn!("checkpoint: {e}");
                last.1 = Instant::now();
            }
        }
    }
}

/// One checkpoint of [`run_checkpointer`]: whether it copied the whole WAL.
fn checkpoint(conn: &rusqlite::Connection, frames: i64, turn: &AsyncMutex<()>) -> Result<bool, Internal> {
    let (busy, log, copied) = passive(conn)?;
    if busy != 0 || copied < log {
        tracing::debug!(
            log,
            copied,
            "checkpoint: not all copied (a reader of an older snapshot, or another checkpoint)"
        );
        return Ok(false);
    }
    if log >= frames {
        if !catch_up(conn, log)? {
            return Ok(false);
        }
        let _turn = turn.blocking_lock();
        let (busy, ..) = pass(conn, "RESTART")?;
        if busy != 0 {
            tracing::debug!("checkpoint: readers kept the WAL from starting over");
        }
    }
    Ok(true)
}

/// Brings the database file close to the WAL's end outside the write turn,
/// after a passive pass that found `log` frames: under load the pass in the
/// turn held it for the copy of everything committed since that pass, and
/// for the `fsync` of every page the passive passes had copied (a pass
/// syncs the database file only if the writer appended nothing while it
/// copied), 30 to 90 ms twice a second in which no request was stored
/// (docs/performance.md). Each round syncs the database file and runs
/// another passive pass, until one finds fewer than [`CATCH_UP_FRAMES`]
/// new frames or [`CATCH_UP_PASSES`] ran; then both files are synced, so
/// that the pass in the turn has only what came during that last sync
/// left to write. `false`: a pass could not copy everything (a reader in
/// the way), and the restart waits for a later checkpoint.
fn catch_up(conn: &rusqlite::Connection, log: i64) -> Result<bool, Internal> {
    let mut last = log;
    for _ in 0..CATCH_UP_PASSES {
        sync_file(conn, SqliteFile::Database)?;
        let (busy, log, copied) = passive(conn)?;
        if busy != 0 || copied < log {
            return Ok(false);
        }
        let new = log.saturating_sub(last);
        last = log;
        if new < CATCH_UP_FRAMES {
            break;
        }
    }
    sync_file(conn, SqliteFile::Database)?;
    sync_file(conn, SqliteFile::Wal)?;
    Ok(true)
}

/// A file of a connection's database.
#[derive(Clone, Copy, Debug)]
enum SqliteFile {
    Database,
    Wal,
}

/// `fsync`s one of `conn`'s files through SQLite's own handle on it. Never
/// through a descriptor opened here: closing any descriptor of a file
/// releases every POSIX lock the process holds on it, SQLite's shared lock
/// on the database file among them, after which another process closing
/// its connection would take the file as unused and delete the WAL still
/// being written (sqlite3.c, "POSIX advisory locks"). SQLite's handle is
/// also the file SQLite resolved (a symbolic link followed) and the one its
/// VFS knows how to sync on every platform.
fn sync_file(conn: &rusqlite::Connection, which: SqliteFile) -> Result<(), Internal> {
    use rusqlite::ffi;
    let op = match which {
        SqliteFile::Database => ffi::SQLITE_FCNTL_FILE_POINTER,
        SqliteFile::Wal => ffi::SQLITE_FCNTL_JOURNAL_POINTER,
    };
    let failed = |what: String| Internal::new(format!("syncing the {which:?} file: {what}"));
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: the connection is open and used on this thread only; the call
    // writes one pointer to `file`: SQLite's open file, which it keeps as
    // long as the connection, or null.
    let rc = unsafe { ffi::sqlite3_file_control(conn.handle(), c"main".as_ptr(), op, (&raw mut file).cast()) };
    if rc != ffi::SQLITE_OK {
        return Err(failed(format!("SQLite error {rc}")));
    }
    // SAFETY: `file` is null or SQLite's file, alive as long as `conn`; its
    // methods are null while the file is not open.
    let sync = unsafe { file.as_ref() }
        .and_then(|f| unsafe { f.pMethods.as_ref() })
        .and_then(|methods| methods.xSync)
        .ok_or_else(|| failed("not open".into()))?;
    // SAFETY: the VFS's own sync of its own open file.
    let rc = unsafe { sync(file, ffi::SQLITE_SYNC_NORMAL) };
    if rc != ffi::SQLITE_OK {
        return Err(failed(format!("SQLite error {rc}")));
    }
    Ok(())
}

/// A checkpoint pass: (busy, frames in the WAL when the pass began, frames
/// copied); `busy` with -1 frames: another connection was checkpointing.
fn pass(conn: &rusqlite::Connection, mode: &str) -> rusqlite::Result<(i64, i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    })
}

/// A passive checkpoint pass ([`pass`]): copies what was committed when it
/// began, without waiting for the writer.
fn passive(conn: &rusqlite::Connection) -> rusqlite::Result<(i64, i64, i64)> {
    pass(conn, "PASSIVE")
}

/// Runs a group in one transaction: the answers to give, and the group's
/// outcome (an error: nothing of the group is stored). A `BEGIN` that fails
/// fails the jobs waiting. A job with a savepoint that fails undoes only its
/// own writes. A job without one that fails before writing leaves nothing
/// to undo; one that fails after a write ends the group, as does a
/// savepoint statement that fails or a transaction SQLite ended on its own
/// (a full disk): everything is rolled back, and the jobs still queued wait
/// for the next group.
///
/// A job without a savepoint writes with `INSERT`, `UPDATE` and `DELETE`
/// statements only ([`Writer::run_without_savepoint`]): SQLite counts the
/// rows of each (`sqlite3_total_changes`; a trigger's as each of its steps
/// completes) and undoes a statement that fails, so an unchanged count
/// means the job wrote nothing. A count that moved for a statement then
/// undone only costs an undo of the group that was not needed.
///
/// The group is `first` and the jobs that arrive while it runs, up to
/// [`MAX_GROUP`]: those queued behind its statements join its `COMMIT`
/// instead of waiting for it and paying one of their own.
fn run_group(conn: &rusqlite::Connection, first: Job, rx: &mpsc::Receiver<Job>) -> (Vec<Finish>, Result<(), String>) {
    let jobs = std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())).take(MAX_GROUP);
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        // The jobs waiting fail with it, as a group would.
        return (jobs.map(|job| (job.run)(None).1).collect(), Err(format!("beginning a group: {e}")));
    }
    let mut finishers = Vec::new();
    let mut broken = None;
    for Job { run, savepoint } in jobs {
        if savepoint {
            if let Err(e) = conn.execute_batch("SAVEPOINT job") {
                finishers.push(run(None).1);
                broken = Some(format!("savepoint: {e}"));
                break;
            }
        }
        // Only a job without a savepoint needs to know whether it wrote.
        let changes = (!savepoint).then(|| conn.total_changes());
        // A panicking job is a failed one (its caller's answer is dropped
        // with it); the writer goes on.
        let ok = match std::panic::catch_unwind(AssertUnwindSafe(|| run(Some(conn)))) {
            Ok((ok, finish)) => {
                finishers.push(finish);
                ok
            }
            Err(_) => {
                tracing::error!("a request writer job panicked");
                false
            }
        };
        if savepoint {
            let undone = if ok { Ok(()) } else { conn.execute_batch("ROLLBACK TO job") };
            if let Err(e) = undone.and_then(|()| conn.execute_batch("RELEASE job")) {
                broken = Some(format!("savepoint: {e}"));
                break;
            }
        } else if !ok && changes.is_some_and(|before| conn.total_changes() != before) {
            broken = Some("a job failed after writing, and its group was undone".to_owned());
            break;
        }
        if conn.is_autocommit() {
            broken = Some("the transaction ended before its commit".to_owned());
            break;
        }
    }
    if let Some(e) = broken {
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
    /// Runs `f` on the writer's connection inside the next group, in a
    /// savepoint of its own: an error of `f` undoes only its writes. Its
    /// answer comes after the group's `COMMIT`.
    ///
    /// # Errors
    /// What `f` returned, or the group could not begin or commit.
    pub async fn run<R: Send + 'static, E: JobError>(&self, f: impl ConnectionJob<R, E>) -> Result<R, E> {
        self.submit(f, true).await
    }

    /// [`Writer::run`] without the savepoint, for jobs that make their
    /// checks before their first write: an error of `f` before it writes
    /// costs nothing, one after a write undoes the whole group (every job of
    /// it is answered with an error, as when a `COMMIT` fails). A savepoint
    /// journals each page a job changes that was in the file when it began
    /// (all but the new pages at the end): a sixth of the writer's time
    /// under `/bc-authorize` load (docs/performance.md).
    ///
    /// `f` must write with `INSERT`, `UPDATE` and `DELETE` statements only,
    /// whose rows SQLite counts ([`run_group`]): no schema or `PRAGMA`
    /// writes, which it does not count. A write that goes uncounted before
    /// the job fails would be committed with the group.
    ///
    /// # Errors
    /// As [`Writer::run`].
    pub async fn run_without_savepoint<R: Send + 'static, E: JobError>(
        &self,
        f: impl ConnectionJob<R, E>,
    ) -> Result<R, E> {
        self.submit(f, false).await
    }

    async fn submit<R: Send + 'static, E: JobError>(
        &self,
        f: impl ConnectionJob<R, E>,
        savepoint: bool,
    ) -> Result<R, E> {
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<R, E>>();
        let run: Run = Box::new(move |conn| {
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
        self.jobs.send(Job { run, savepoint }).map_err(|_| Internal::new("the request writer has stopped"))?;
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

    type TestJob = Box<dyn FnOnce(&rusqlite::Connection) -> Result<usize, Internal> + Send>;

    /// Queues `jobs` (each with whether it runs in a savepoint) on `writer`
    /// in their order while `db`'s write turn is held, so that they make one
    /// group, then lets the group run: the answers, in the jobs' order.
    async fn one_group(
        writer: &Writer,
        db: &super::super::Db,
        jobs: Vec<(bool, TestJob)>,
    ) -> Vec<Result<usize, Internal>> {
        let held = super::super::begin(db).await.unwrap();
        let mut all = Box::pin(futures_util::future::join_all(jobs.into_iter().map(|(savepoint, job)| async move {
            if savepoint {
                writer.run(job).await
            } else {
                writer.run_without_savepoint(job).await
            }
        })));
        // One poll of each, in order: each job is sent on its first poll.
        std::future::poll_fn(|cx| {
            assert!(std::future::Future::poll(all.as_mut(), cx).is_pending(), "answered while the turn was held");
            std::task::Poll::Ready(())
        })
        .await;
        held.commit().await.unwrap();
        all.await
    }

    fn refuse() -> TestJob {
        Box::new(|_| Err(Internal::new("refused")))
    }

    // Without savepoints, jobs that fail before writing (a refusal, a
    // statement that fails, a panic) cost their group nothing: the other
    // jobs' writes are committed, beside jobs with a savepoint that fail
    // after writing (undone alone).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_without_savepoint_that_fails_before_writing_leaves_its_group_alone() {
        let (_dir, db) = table().await;
        let writer = Writer::open(&db).unwrap();
        let null: TestJob = Box::new(|conn| Ok(conn.execute("INSERT INTO t (v) VALUES (NULL)", [])?));
        let undone: TestJob = Box::new(|conn| {
            insert(4)(conn)?;
            Err(Internal::new("undone"))
        });
        let panics: TestJob = Box::new(|_| panic!("a job panics before writing"));
        let jobs = vec![
            (false, Box::new(insert(0)) as TestJob),
            (false, refuse()),
            (false, Box::new(insert(2))),
            (false, null),
            (true, undone),
            (false, Box::new(insert(5))),
            (true, Box::new(insert(6))),
            (false, panics),
            (false, Box::new(insert(8))),
        ];
        let answers = one_group(&writer, &db, jobs).await;
        let errors: Vec<_> = answers.iter().map(|a| a.as_ref().err().map(ToString::to_string)).collect();
        for (i, error) in errors.iter().enumerate() {
            match (i, error) {
                (1, Some(e)) => assert!(e.contains("refused"), "{e}"),
                (3, Some(e)) => assert!(e.contains("NOT NULL"), "{e}"),
                (4, Some(e)) => assert!(e.contains("undone"), "{e}"),
                (7, Some(e)) => assert!(e.contains("dropped a job"), "{e}"),
                (0 | 2 | 5 | 6 | 8, None) => {}
                _ => panic!("job {i}: {error:?}"),
            }
        }
        assert_eq!(stored(&db).await, [0, 2, 5, 6, 8]);
    }

    // Without savepoints, a job that fails or panics after a write undoes
    // its whole group: each job of it is answered with an error (the one
    // that failed, with its own), nothing of it is stored, and the jobs
    // queued behind it are committed in the next group. Checked to fail
    // with the `total_changes` check left out (jobs 0 to 3 answered as
    // stored).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_without_savepoint_that_fails_after_writing_undoes_its_group() {
        for panics in [false, true] {
            let (_dir, db) = table().await;
            let writer = Writer::open(&db).unwrap();
            let jobs = (0..8i64)
                .map(|i| {
                    let job: TestJob = Box::new(move |conn| {
                        let n = insert(i)(conn)?;
                        if i == 4 {
                            assert!(!panics, "job 4 panics after its write");
                            return Err(Internal::new("job 4 failed after its write"));
                        }
                        Ok(n)
                    });
                    // One with a savepoint among them: undone with the group.
                    (i == 2, job)
                })
                .collect();
            let answers = one_group(&writer, &db, jobs).await;
            for (i, answer) in (0i64..).zip(&answers) {
                let e = answer.as_ref().err().map(ToString::to_string).unwrap_or_default();
                match i {
                    0..=3 => assert!(e.contains("failed after writing"), "job {i}: {answer:?}"),
                    4 if panics => assert!(e.contains("dropped a job"), "job 4: {answer:?}"),
                    4 => assert!(e.contains("job 4 failed after its write"), "job 4: {answer:?}"),
                    _ => assert!(answer.is_ok(), "job {i}: {answer:?}"),
                }
            }
            assert_eq!(stored(&db).await, [5, 6, 7], "panics: {panics}");
        }
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

    // A connection that writes outside the write turn (another process, or
    // a single statement on the pool) holds the lock for a while: the
    // writer's job waits for it in the busy handler and then commits. With
    // no handler (a `false` from it), the job fails "database is locked".
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_waits_for_a_lock_taken_outside_the_turn() {
        let (dir, db) = table().await;
        let writer = Writer::open(&db).unwrap();
        let other = rusqlite::Connection::open(dir.path().join("writer.db")).unwrap();
        other.execute_batch("BEGIN IMMEDIATE; INSERT INTO t (v) VALUES (1);").unwrap();
        let committing = Arc::new(AtomicBool::new(false));
        let holder = std::thread::spawn({
            let committing = committing.clone();
            move || {
                std::thread::sleep(Duration::from_millis(300));
                committing.store(true, Ordering::SeqCst);
                other.execute_batch("COMMIT").unwrap();
            }
        });
        writer.run(insert(2)).await.unwrap();
        assert!(committing.load(Ordering::SeqCst), "answered before the other's commit");
        holder.join().unwrap();
        assert_eq!(stored(&db).await, [1, 2]);
    }

    // The writer's busy handler waits 100 us at first, a millisecond later
    // on, and gives up once the waits add up to the busy timeout.
    #[test]
    fn the_writers_waits_for_a_lock_add_up_to_the_busy_timeout() {
        assert_eq!(lock_retry_in(0), Some(Duration::from_micros(100)));
        assert_eq!(lock_retry_in(99), Some(Duration::from_micros(100)));
        assert_eq!(lock_retry_in(100), Some(Duration::from_millis(1)));
        assert_eq!(lock_retry_in(-1), None);
        let waits: Vec<Duration> = (0..).map_while(lock_retry_in).collect();
        let total: Duration = waits.iter().sum();
        assert_eq!(total, super::super::BUSY_TIMEOUT);
        assert_eq!(lock_retry_in(i32::try_from(waits.len()).unwrap()), None);
        assert_eq!(lock_retry_in(i32::MAX), None);
    }

    /// How many times the WAL was started over: the checkpoint sequence
    /// number of its header (bytes 12 to 15, big-endian; SQLite's file
    /// format, "WAL File Format").
    fn wal_restarts(wal: &std::path::Path) -> u32 {
        use std::io::Read;
        let mut header = [0u8; 16];
        match std::fs::File::open(wal).and_then(|mut f| f.read_exact(&mut header)) {
            Ok(()) => u32::from_be_bytes([header[12], header[13], header[14], header[15]]),
            Err(_) => 0,
        }
    }

    // The checkpointer has the WAL started over while the writer keeps
    // writing: 10,000 rows of 4 KiB written by 8 writers one after the
    // other (about 15,000 pages, well below the writer's own checkpoints),
    // the WAL started over at 1,000 pages, and more rows until it has. Without
    // the checkpointer, or with its passive passes alone (the `RESTART` pass
    // left out), the WAL is never started over and grows to about 60 MiB
    // after the first 10,000 rows (measured); with it, about 12 MiB when the
    // machine is quiet.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_starts_the_wal_over() {
        let (dir, db) = table().await;
        sqlx::query("CREATE TABLE b (x BLOB NOT NULL)").execute(&db).await.unwrap();
        let wal = dir.path().join("writer.db-wal");
        let before = wal_restarts(&wal);
        let writer = Arc::new(Writer::open_restarting_at(&db, 1_000).unwrap());
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    for _ in 0..1250 {
                        writer
                            .run(|conn| {
                                Ok::<_, Internal>(conn.execute("INSERT INTO b (x) VALUES (zeroblob(4096))", [])?)
                            })
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM b").fetch_one(&db).await.unwrap();
        assert_eq!(count, 10_000);
        // The writing goes on, without a pause in which passive passes
        // alone could copy the whole WAL, until the WAL has started over:
        // the catching up before a restart syncs the files, which on a busy
        // disk can take longer than the rows above. At most 20,000 rows
        // more (about 45,000 pages in all), below the 65,536 at which the
        // writer would checkpoint and start the WAL over on its own.
        for _ in 0..10 {
            if wal_restarts(&wal) != before {
                return;
            }
            write_pages(&writer, 2_000).await;
        }
        let size = std::fs::metadata(&wal).unwrap().len();
        assert!(wal_restarts(&wal) != before, "the WAL was never started over ({} MiB)", size >> 20);
    }

    // Catching up before the pass in the write turn copies what the WAL
    // holds into the database file (a copy of that file alone has the rows).
    // A reader of an older snapshot in the way stops it: the WAL does not
    // start over this time.
    #[tokio::test]
    async fn catching_up_copies_the_wal_unless_a_reader_is_in_the_way() {
        let (dir, _db) = table().await;
        let path = dir.path().join("writer.db");
        let (conn, checkpointer) =
            (rusqlite::Connection::open(&path).unwrap(), rusqlite::Connection::open(&path).unwrap());
        let write = |n: i64| {
            for v in 0..n {
                conn.execute("INSERT INTO t (v) VALUES (?1)", [v]).unwrap();
            }
        };
        let in_file_alone = || {
            let copy = dir.path().join("copy.db");
            std::fs::copy(&path, &copy).unwrap();
            let n: i64 = rusqlite::Connection::open(&copy)
                .unwrap()
                .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap();
            std::fs::remove_file(&copy).unwrap();
            n
        };
        write(50);
        let (_, log, _) = passive(&checkpointer).unwrap();
        write(50);
        assert_eq!(in_file_alone(), 50);
        assert!(catch_up(&checkpointer, log).unwrap());
        assert_eq!(in_file_alone(), 100);

        let reader = rusqlite::Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let seen: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        write(50);
        let (_, log, _) = passive(&checkpointer).unwrap();
        write(50);
        assert!(!catch_up(&checkpointer, log).unwrap(), "caught up past a reader's snapshot");
        assert_eq!(seen, 100);
        reader.execute_batch("COMMIT").unwrap();
        assert!(catch_up(&checkpointer, log).unwrap());
        assert_eq!(in_file_alone(), 200);
    }

    /// Set for the child process of
    /// `catching_up_leaves_this_process_s_locks_alone`: the database it opens
    /// and closes.
    const ENV_OTHER_PROCESS_DB: &str = "COUNTERSIGN_TEST_OTHER_PROCESS_DB";

    // Another process that opens and closes the database while this one
    // has it open (the operator's CLI beside the server) finds it in use, so
    // it leaves the WAL alone, also after a catch-up's syncs. A sync through
    // a descriptor opened and closed here dropped this process's POSIX
    // locks on the file: the other process then took the file as unused,
    // checkpointed and deleted the WAL under the writer (checked).
    #[tokio::test]
    async fn catching_up_leaves_this_process_s_locks_alone() {
        if let Some(path) = std::env::var_os(ENV_OTHER_PROCESS_DB) {
            let other = rusqlite::Connection::open(path).unwrap();
            let _: i64 = other.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
            other.close().unwrap();
            return;
        }
        let (dir, _db) = table().await;
        let path = dir.path().join("writer.db");
        let (conn, checkpointer) =
            (rusqlite::Connection::open(&path).unwrap(), rusqlite::Connection::open(&path).unwrap());
        conn.execute("INSERT INTO t (v) VALUES (1)", []).unwrap();
        let (_, log, _) = passive(&checkpointer).unwrap();
        conn.execute("INSERT INTO t (v) VALUES (2)", []).unwrap();
        assert!(catch_up(&checkpointer, log).unwrap());
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::writer::tests::catching_up_leaves_this_process_s_locks_alone",
                "--test-threads=1",
            ])
            .env(ENV_OTHER_PROCESS_DB, &path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // The child ran this test (a renamed test would run none, and pass).
        assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}");
        let wal = dir.path().join("writer.db-wal");
        assert!(wal.exists(), "the other process deleted the WAL of a database in use");
        conn.execute("INSERT INTO t (v) VALUES (3)", []).unwrap();
        let n: i64 = checkpointer.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 3);
    }

    // A file SQLite has not open (a rollback journal outside a transaction)
    // cannot be synced: an error that says which file, not a crash.
    #[test]
    fn syncing_a_file_sqlite_has_not_open_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("journal.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        sync_file(&conn, SqliteFile::Database).unwrap();
        let err = sync_file(&conn, SqliteFile::Wal).unwrap_err();
        assert_eq!(err.to_string(), "syncing the Wal file: not open");
    }

    /// Writes `rows` rows of 4 KiB through `writer`, 8 at a time.
    async fn write_pages(writer: &Arc<Writer>, rows: usize) {
        let jobs: Vec<_> = (0..8)
            .map(|_| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    for _ in 0..rows / 8 {
                        let blob = |conn: &rusqlite::Connection| {
                            Ok::<_, Internal>(conn.execute("INSERT INTO b (x) VALUES (zeroblob(4096))", [])?)
                        };
                        writer.run(blob).await.unwrap();
                    }
                })
            })
            .collect();
        for job in jobs {
            job.await.unwrap();
        }
    }

    // A reader of an older snapshot (an audit export, say) keeps the
    // checkpointer's passes from copying the whole WAL: the WAL cannot start
    // over, and the writer goes on meanwhile. Once the reader is done, the
    // checkpointer (which met only passes that could not copy everything
    // while the reader held its snapshot) goes on and the WAL starts over:
    // a checkpointer that stopped at such a pass fails here (checked), as
    // the writer's own checkpoints come only at 65,536 pages.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_reader_holds_the_wal_back_until_it_is_done() {
        let (dir, db) = table().await;
        sqlx::query("CREATE TABLE b (x BLOB NOT NULL)").execute(&db).await.unwrap();
        let wal = dir.path().join("writer.db-wal");
        let writer = Arc::new(Writer::open_restarting_at(&db, 1_000).unwrap());
        write_pages(&writer, 8).await;
        let reader = rusqlite::Connection::open(dir.path().join("writer.db")).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let seen: i64 = reader.query_row("SELECT count(*) FROM b", [], |r| r.get(0)).unwrap();
        let before = wal_restarts(&wal);

        // 3,000 pages written while the reader holds its snapshot.
        let written = tokio::time::timeout(Duration::from_secs(60), write_pages(&writer, 3_000)).await;
        assert!(written.is_ok(), "the writer went on while the reader held the WAL");
        assert_eq!(wal_restarts(&wal), before, "the WAL started over under a reader of an older snapshot");
        let still: i64 = reader.query_row("SELECT count(*) FROM b", [], |r| r.get(0)).unwrap();
        assert_eq!(still, seen, "the reader kept its snapshot");
        reader.execute_batch("COMMIT").unwrap();

        // The reader done, the WAL starts over within a few passes.
        let deadline = Instant::now() + Duration::from_secs(20);
        while wal_restarts(&wal) == before {
            assert!(Instant::now() < deadline, "the WAL never started over after the reader was done");
            write_pages(&writer, 8).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
