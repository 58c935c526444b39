//! Group commit: durable writes that arrive together share one transaction.
//!
//! A durable commit costs a flush to disk (SQLite with `synchronous = FULL`) or a WAL flush
//! (PostgreSQL), whatever it holds. Requests that write queue their job; one committer task
//! takes everything waiting (up to the batch's limit), applies it in one transaction on a
//! connection of its own (see [`Store::durable_connection`]), and answers each request once
//! that transaction has committed. Under load the flush is paid once per batch; alone, a
//! request waits for nothing but its own commit.
//!
//! If a batch fails as a whole (a statement refused), its jobs are applied again one by one,
//! so one bad job cannot fail the others. A job's own refusal (a rule of its area) is its
//! outcome, not a failure of the batch.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::{Error, Result};
use crate::store::{Conn, Store};

/// What an area writes through a [`GroupCommit`].
pub trait Batch: Send + Sync + 'static {
    /// One request's write.
    type Job: Send + Sync + 'static;
    /// What its request is answered.
    type Done: Send + 'static;
    /// The most jobs one transaction takes.
    const MAX: usize;
    /// Named in logs.
    const NAME: &'static str;

    /// Applies `jobs` in one transaction on `conn` (begun with [`Store::begin_durable`] and
    /// committed before returning): one outcome per job, in order. An `Err` means nothing
    /// was committed.
    fn apply(
        &self,
        store: &Store,
        conn: &mut Conn,
        jobs: &[Self::Job],
    ) -> impl Future<Output = Result<Vec<Result<Self::Done>>>> + Send;
}

type Waiting<B> = (
    <B as Batch>::Job,
    oneshot::Sender<Result<<B as Batch>::Done>>,
);

/// The way to one committer task, started on the first job.
pub struct GroupCommit<B: Batch> {
    store: Store,
    batch: Arc<B>,
    sender: OnceLock<mpsc::Sender<Waiting<B>>>,
}

impl<B: Batch> GroupCommit<B> {
    pub fn new(store: Store, batch: B) -> GroupCommit<B> {
        GroupCommit {
            store,
            batch: Arc::new(batch),
            sender: OnceLock::new(),
        }
    }

    /// Queues `job` and waits until the transaction that holds it has committed.
    pub async fn submit(&self, job: B::Job) -> Result<B::Done> {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(4 * B::MAX);
            // One committer per process: SQLite has one writer at a time anyway, and on
            // PostgreSQL parallel batches queue on the same rows (each process of a fleet
            // brings its own committer).
            tokio::spawn(run::<B>(self.store.clone(), self.batch.clone(), receiver));
            sender
        });
        let stopped = || Error::internal(anyhow::anyhow!("the {} committer stopped", B::NAME));
        let (reply, answer) = oneshot::channel();
        sender.send((job, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Takes what is waiting, commits it, answers; until the queue closes.
async fn run<B: Batch>(store: Store, batch: Arc<B>, mut receiver: mpsc::Receiver<Waiting<B>>) {
    let mut waiting = Vec::with_capacity(B::MAX);
    let mut conn: Option<Conn> = None;
    loop {
        if receiver.recv_many(&mut waiting, B::MAX).await == 0 {
            return;
        }
        let (jobs, replies): (Vec<B::Job>, Vec<_>) = waiting.drain(..).unzip();
        match apply(&store, &*batch, &mut conn, &jobs).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(err) if jobs.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(err));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, batch = jobs.len(), committer = B::NAME, "batch failed; applying one by one");
                for (job, reply) in jobs.iter().zip(replies) {
                    let outcome =
                        match apply(&store, &*batch, &mut conn, std::slice::from_ref(job)).await {
                            Ok(outcomes) => outcomes.into_iter().next().unwrap_or_else(|| {
                                Err(Error::internal(anyhow::anyhow!("a job without an outcome")))
                            }),
                            Err(err) => Err(err),
                        };
                    let _ = reply.send(outcome);
                }
            }
        }
    }
}

/// Applies `jobs` on the committer's durable connection, opened on first use and again after
/// a failure.
async fn apply<B: Batch>(
    store: &Store,
    batch: &B,
    conn: &mut Option<Conn>,
    jobs: &[B::Job],
) -> Result<Vec<Result<B::Done>>> {
    let mut open = match conn.take() {
        Some(c) => c,
        None => store.durable_connection().await?,
    };
    let outcomes = batch.apply(store, &mut open, jobs).await?;
    if outcomes.len() != jobs.len() {
        return Err(Error::internal(anyhow::anyhow!(
            "{} outcomes for {} jobs",
            outcomes.len(),
            jobs.len()
        )));
    }
    *conn = Some(open);
    Ok(outcomes)
}
