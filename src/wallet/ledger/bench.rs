//! `ledger bench`: N concurrent wallets drive one or several ledger servers with the
//! market's cycle (open, pay+accept and redeem three times, close), then settle and prove
//! that nothing was lost or counted twice: each seller holds exactly the highest voucher of
//! each of its channels, each buyer exactly the rest, and the books balance.
//!
//! With `by_op`, the run is instead three timed phases, each reported on its own: `open`
//! (channels opened per second), `pay+accept` (vouchers signed by the buyer and checked by
//! the seller, on this machine: no ledger request), and `redeem` (each redeeming a voucher
//! one step higher than the last); then the same settling and checks.
//!
//! A client that loses its server moves to the next address (see `LedgerClient`); the
//! signed request it resends applies at most once (nonces), and redeeming is by cumulative
//! amount, so a resent redeem pays nothing twice.

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;

use super::LedgerError;
use super::client::LedgerClient;
use super::proto::{Action, Audit, ChannelState, Outcome};
use crate::wallet::amount::Amount;
use crate::wallet::keys::{self, LedgerId, PublicKey};
use crate::wallet::voucher::{ChannelCertificate, Voucher};

/// Tokens minted for each bench buyer.
const FUNDS: u64 = 1_000_000 * 1_000_000;
/// Escrow per channel and what each voucher adds.
const CAP: u64 = 1_000_000;
const STEP: u64 = 1_000;
const VOUCHERS_PER_CHANNEL: u64 = 3;
/// How long settling at the end may keep retrying a server that is coming back.
const SETTLE_FOR: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub servers: usize,
    pub clients: usize,
    pub seconds: f64,
    /// Ledger requests answered successfully during the timed run.
    pub ops: u64,
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Requests that failed during the run (all servers down or refused).
    pub errors: u64,
    pub channels: u64,
    /// Every seller holds exactly Σ its channels' highest vouchers, every buyer the rest, and
    /// minted = balances + escrowed.
    pub books_balance: bool,
    pub audit: Option<Audit>,
    /// What did not add up, if anything.
    pub problems: Vec<String>,
    /// With `by_op`: one entry per phase (open, pay+accept, redeem).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_op: Vec<OpReport>,
}

/// One operation's phase of a `by_op` run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OpReport {
    pub op: &'static str,
    pub count: u64,
    pub seconds: f64,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The operations a `by_op` run measures, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Open,
    PayAccept,
    Redeem,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Open => "open",
            Op::PayAccept => "pay+accept",
            Op::Redeem => "redeem",
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

struct Worker {
    client: LedgerClient,
    ledger: LedgerId,
    buyer: SigningKey,
    seller: SigningKey,
    /// Every channel this worker opened (as far as it knows) with its highest voucher.
    channels: Vec<(ChannelCertificate, Option<Voucher>, bool)>,
    latencies_us: Vec<u32>,
    errors: u64,
}

impl Worker {
    async fn timed(&mut self, key: &SigningKey, action: Action) -> Result<Outcome, LedgerError> {
        let t = Instant::now();
        let r = self.client.signed(key, action).await;
        match &r {
            Ok(_) => self
                .latencies_us
                .push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX)),
            Err(e) => {
                self.errors += 1;
                tracing::debug!("bench request failed: {e}");
            }
        }
        r
    }

    /// One market cycle on a fresh channel.
    async fn cycle(&mut self) -> Result<(), LedgerError> {
        let seller = PublicKey::of(&self.seller);
        let buyer = self.buyer.clone();
        let expiry = keys::now_secs() + 3600;
        let cert = match self
            .timed(
                &buyer,
                Action::Open {
                    seller,
                    cap: Amount(CAP),
                    expiry,
                },
            )
            .await?
        {
            Outcome::Opened { certificate } => certificate,
            o => return Err(LedgerError::Protocol(format!("unexpected reply {o:?}"))),
        };
        self.channels.push((cert.clone(), None, false));
        let i = self.channels.len() - 1;
        let seller_key = self.seller.clone();
        for seq in 1..=VOUCHERS_PER_CHANNEL {
            // Pay (buyer signs) and accept (seller checks), as the market does per piece.
            let v = Voucher::sign(
                &buyer,
                self.ledger,
                cert.channel,
                seller,
                seq,
                Amount(seq * STEP),
            );
            v.check(&cert, keys::now_secs())
                .map_err(|r| LedgerError::Protocol(format!("bench voucher refused: {r}")))?;
            self.channels[i].1 = Some(v.clone());
            self.timed(&seller_key, Action::Redeem { voucher: v })
                .await?;
        }
        let last = self.channels[i].1.clone();
        self.timed(
            &seller_key,
            Action::Close {
                channel: cert.channel,
                voucher: last,
            },
        )
        .await?;
        self.channels[i].2 = true;
        Ok(())
    }

    /// One operation of a `by_op` phase; its latency goes to `latencies_us`.
    async fn one(&mut self, op: Op, round: usize) -> Result<(), LedgerError> {
        match op {
            Op::Open => {
                let expiry = keys::now_secs() + 3600;
                let t = Instant::now();
                let r = self
                    .client
                    .signed(
                        &self.buyer,
                        Action::Open {
                            seller: PublicKey::of(&self.seller),
                            cap: Amount(CAP),
                            expiry,
                        },
                    )
                    .await;
                let cert = match r {
                    Ok(Outcome::Opened { certificate }) => certificate,
                    Ok(o) => return Err(LedgerError::Protocol(format!("unexpected reply {o:?}"))),
                    Err(e) => {
                        self.errors += 1;
                        return Err(e);
                    }
                };
                self.record(t);
                self.channels.push((cert, None, false));
                Ok(())
            }
            Op::PayAccept => {
                let t = Instant::now();
                self.pay_accept(round)?;
                self.record(t);
                Ok(())
            }
            Op::Redeem => {
                let v = self.pay_accept(round)?;
                let seller = self.seller.clone();
                self.timed(&seller, Action::Redeem { voucher: v }).await?;
                Ok(())
            }
        }
    }

    fn record(&mut self, since: Instant) {
        self.latencies_us
            .push(u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX));
    }

    /// The buyer signs the next voucher on one of its channels (round robin) and the
    /// seller checks it against the certificate, as the market does per piece.
    fn pay_accept(&mut self, round: usize) -> Result<Voucher, LedgerError> {
        let n = self.channels.len();
        if n == 0 {
            return Err(LedgerError::Protocol("no channel to pay on".into()));
        }
        let (cert, last, _) = &self.channels[round % n];
        let seq = last.as_ref().map_or(0, |v| v.seq) + 1;
        let cumulative = Amount((seq * STEP).min(CAP));
        let v = Voucher::sign(
            &self.buyer,
            self.ledger,
            cert.channel,
            PublicKey::of(&self.seller),
            seq,
            cumulative,
        );
        v.check(cert, keys::now_secs())
            .map_err(|r| LedgerError::Protocol(format!("bench voucher refused: {r}")))?;
        self.channels[round % n].1 = Some(v.clone());
        Ok(v)
    }

    /// Closes every channel not known closed with its highest voucher, retrying through
    /// failures for a while (a server may be restarting).
    async fn settle(&mut self) -> Result<(), LedgerError> {
        let until = Instant::now() + SETTLE_FOR;
        for i in 0..self.channels.len() {
            if self.channels[i].2 {
                continue;
            }
            let (cert, v, _) = self.channels[i].clone();
            loop {
                let r = self
                    .client
                    .signed(
                        &self.seller,
                        Action::Close {
                            channel: cert.channel,
                            voucher: v.clone(),
                        },
                    )
                    .await;
                match r {
                    Ok(_) => break,
                    Err(e) if Instant::now() < until => {
                        tracing::debug!("settling {}: {e}; retrying", cert.channel);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            self.channels[i].2 = true;
        }
        Ok(())
    }

    /// What this pair must hold after settling, against what the ledger says.
    async fn check(&self) -> Result<Vec<String>, LedgerError> {
        let mut problems = Vec::new();
        let due: u64 = self
            .channels
            .iter()
            .map(|(_, v, _)| v.as_ref().map_or(0, |v| v.cumulative.0))
            .sum();
        let (seller_balance, _) = self.client.balance(&self.seller).await?;
        if seller_balance.0 != due {
            problems.push(format!(
                "seller {} holds {} but was paid {} in vouchers",
                PublicKey::of(&self.seller),
                seller_balance,
                Amount(due)
            ));
        }
        // A channel opened twice (reply lost to a dying server, request resent) is still
        // open and unused: its escrow is the buyer's too.
        let (buyer_balance, channels) = self.client.balance(&self.buyer).await?;
        let escrowed: u64 = channels
            .iter()
            .filter(|c| c.buyer == PublicKey::of(&self.buyer) && c.state != ChannelState::Closed)
            .map(|c| c.escrowed().0)
            .sum();
        if buyer_balance.0 + escrowed + due != FUNDS {
            problems.push(format!(
                "buyer {} holds {} + {} escrowed, paid {}: not the {} it was given",
                PublicKey::of(&self.buyer),
                buyer_balance,
                Amount(escrowed),
                Amount(due),
                Amount(FUNDS)
            ));
        }
        Ok(problems)
    }
}

/// Runs the bench against `addrs` ("HOST:PORT[,HOST:PORT…]") with `clients` wallets for
/// `seconds`, minting with `admin`.
pub async fn run(
    addrs: &str,
    admin: &SigningKey,
    clients: usize,
    seconds: u64,
    by_op: bool,
) -> Result<BenchReport, LedgerError> {
    let servers: Vec<String> = addrs.split(',').map(str::to_string).collect();
    let boot = LedgerClient::new(addrs);
    let ledger = boot.ledger_id().await?;
    let mut workers = Vec::new();
    for i in 0..clients.max(1) {
        // Spread the wallets over the servers; each fails over to the others.
        let rotated: Vec<String> = (0..servers.len())
            .map(|k| servers[(i + k) % servers.len()].clone())
            .collect();
        let w = Worker {
            client: LedgerClient::pinned(rotated.join(","), ledger),
            ledger,
            buyer: keys::generate_key(),
            seller: keys::generate_key(),
            channels: Vec::new(),
            latencies_us: Vec::new(),
            errors: 0,
        };
        boot.mint(admin, PublicKey::of(&w.buyer), Amount(FUNDS))
            .await?;
        workers.push(w);
    }
    let started = Instant::now();
    let mut by_op_reports = Vec::new();
    let mut done = workers;
    if by_op {
        for op in [Op::Open, Op::PayAccept, Op::Redeem] {
            let (d, r) = phase(done, op, seconds).await?;
            done = d;
            by_op_reports.push(r);
        }
    } else {
        let stop = started + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for mut w in done {
            tasks.push(tokio::spawn(async move {
                while Instant::now() < stop {
                    if w.cycle().await.is_err() {
                        // All servers down for the moment: do not spin.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                w
            }));
        }
        done = Vec::new();
        for t in tasks {
            done.push(t.await.map_err(|e| LedgerError::Protocol(e.to_string()))?);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut lat: Vec<u32> = done
        .iter()
        .flat_map(|w| w.latencies_us.iter().copied())
        .collect();
    lat.sort_unstable();
    let pct = |p: f64| percentile(&lat, p);
    let mut problems = Vec::new();
    let tasks: Vec<_> = done
        .into_iter()
        .map(|mut w| {
            tokio::spawn(async move {
                let r = match w.settle().await {
                    Ok(()) => w.check().await,
                    Err(e) => Err(e),
                };
                (w, r)
            })
        })
        .collect();
    let mut settled = Vec::new();
    for t in tasks {
        let (w, r) = t.await.map_err(|e| LedgerError::Protocol(e.to_string()))?;
        match r {
            Ok(p) => problems.extend(p),
            Err(e) => problems.push(format!("could not settle: {e}")),
        }
        settled.push(w);
    }
    let audit = match boot.audit().await {
        Ok(a) => Some(a),
        Err(e) => {
            problems.push(format!("audit failed: {e}"));
            None
        }
    };
    if let Some(a) = &audit
        && !a.consistent
    {
        problems.push(format!(
            "books do not balance: minted {} != balances {} + escrowed {}",
            a.minted, a.balances, a.escrowed
        ));
    }
    let ops = lat.len() as u64;
    Ok(BenchReport {
        servers: servers.len(),
        clients: clients.max(1),
        seconds: elapsed,
        ops,
        ops_per_sec: ops as f64 / elapsed.max(1e-9),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors: settled.iter().map(|w| w.errors).sum(),
        channels: settled.iter().map(|w| w.channels.len() as u64).sum(),
        books_balance: problems.is_empty(),
        audit,
        problems,
        by_op: by_op_reports,
    })
}

/// Runs every worker through `seconds` of `op` alone; returns the workers (their latency
/// lists emptied into the report) and the phase's figures.
async fn phase(
    workers: Vec<Worker>,
    op: Op,
    seconds: u64,
) -> Result<(Vec<Worker>, OpReport), LedgerError> {
    let started = Instant::now();
    let stop = started + Duration::from_secs(seconds.max(1));
    let mut tasks = Vec::new();
    for mut w in workers {
        w.latencies_us.clear();
        tasks.push(tokio::spawn(async move {
            let mut round = 0;
            while Instant::now() < stop {
                if w.one(op, round).await.is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                round += 1;
                if op == Op::PayAccept && round % 256 == 0 {
                    // Local work only: let the other workers' tasks run.
                    tokio::task::yield_now().await;
                }
            }
            w
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await.map_err(|e| LedgerError::Protocol(e.to_string()))?);
    }
    let secs = started.elapsed().as_secs_f64();
    let mut lat: Vec<u32> = done
        .iter_mut()
        .flat_map(|w| std::mem::take(&mut w.latencies_us))
        .collect();
    lat.sort_unstable();
    let count = lat.len() as u64;
    Ok((
        done,
        OpReport {
            op: op.name(),
            count,
            seconds: secs,
            per_sec: count as f64 / secs.max(1e-9),
            p50_ms: percentile(&lat, 0.50),
            p99_ms: percentile(&lat, 0.99),
        },
    ))
}
