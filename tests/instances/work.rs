//! The background jobs run on exactly one instance, the leader, and when it is killed
//! (SIGKILL) another takes them over within seconds.

use std::time::{Duration, Instant};

use super::{Cluster, eventually, metric};

const LEADER: &str = "utilhall_jobs_leader";
const SWEEPS: &str = "utilhall_job_runs_total{job=\"iot_sweep\"}";
const RECONCILES: &str = "utilhall_job_runs_total{job=\"heating_reconcile\"}";

impl Cluster {
    /// Instance `i`'s value of `name` (0 when it does not answer).
    async fn gauge(&self, i: usize, name: &str) -> f64 {
        self.metrics(i)
            .await
            .and_then(|m| metric(&m, name))
            .unwrap_or(0.0)
    }

    /// The instances among `alive` that say they lead.
    async fn leaders(&self, alive: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        for &i in alive {
            if self.gauge(i, LEADER).await == 1.0 {
                out.push(i);
            }
        }
        out
    }

    /// The one leader among `alive`, once there is exactly one (at most 5 s).
    async fn the_leader(&self, alive: &[usize]) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let leaders = self.leaders(alive).await;
            if leaders.len() == 1 {
                return leaders[0];
            }
            assert!(
                Instant::now() < deadline,
                "one leader among {alive:?}: {leaders:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether both jobs ran on instance `i` (twice and once) within 5 s.
    async fn runs_the_jobs(&self, i: usize) -> bool {
        eventually(Duration::from_secs(5), move || async move {
            self.gauge(i, SWEEPS).await >= 2.0 && self.gauge(i, RECONCILES).await >= 1.0
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_jobs_run_on_one_instance_and_move_when_it_is_killed() {
    let env = [(
        "UTILHALL_HEATING__RECONCILE_INTERVAL_SECONDS",
        "1".to_owned(),
    )];
    let Some(mut cluster) = Cluster::start(3, &env).await else {
        return;
    };
    let everyone = [0, 1, 2];
    let leader = cluster.the_leader(&everyone).await;

    // The jobs run there, and nowhere else.
    assert!(
        cluster.runs_the_jobs(leader).await,
        "the leader runs the jobs\n{}",
        cluster.logs()
    );
    for i in everyone.into_iter().filter(|i| *i != leader) {
        assert_eq!(cluster.gauge(i, SWEEPS).await, 0.0, "instance {i} swept");
        assert_eq!(
            cluster.gauge(i, RECONCILES).await,
            0.0,
            "instance {i} reconciled"
        );
        assert_eq!(cluster.gauge(i, LEADER).await, 0.0);
    }

    // The leader dies: one of the others leads within a few seconds, and runs the jobs.
    cluster.servers[leader].kill();
    let killed = Instant::now();
    let alive: Vec<usize> = everyone.into_iter().filter(|i| *i != leader).collect();
    let successor = cluster.the_leader(&alive).await;
    eprintln!("taken over after {:?}", killed.elapsed());
    assert!(
        cluster.runs_the_jobs(successor).await,
        "the successor runs the jobs\n{}",
        cluster.logs()
    );
    let bystander = alive
        .into_iter()
        .find(|i| *i != successor)
        .expect("a third");
    assert_eq!(cluster.gauge(bystander, SWEEPS).await, 0.0);
    assert_eq!(cluster.gauge(bystander, LEADER).await, 0.0);
}
