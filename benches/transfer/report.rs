//! Rows, medians over the runs, and bidtorrent against the best real client in each role.

use crate::clients::{Client, Pair};

/// One leecher run.
pub struct Row {
    pub pair: Pair,
    pub mib: u64,
    /// Leecher launch -> every piece verified.
    pub secs: f64,
    /// MiB/s from the first report of verified bytes to completion, when one was seen.
    pub transfer_mib_s: Option<f64>,
    /// Leecher launch -> first report of a verified piece, seconds.
    pub ttfb: Option<f64>,
    /// Peak RssAnon and VmRSS, KiB.
    pub leecher_anon: u64,
    pub leecher_rss: u64,
    pub seeder_anon: u64,
    /// CPU seconds (user + system) over the transfer.
    pub leecher_cpu: f64,
    pub seeder_cpu: f64,
}

impl Row {
    fn gib(&self) -> f64 {
        self.mib as f64 / 1024.0
    }
}

fn opt(v: Option<f64>, width: usize, prec: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:>width$.prec$}"),
        _ => format!("{:>width$}", "-"),
    }
}

pub fn print_header() {
    println!(
        "{:<32} {:>5} {:>7} {:>8} {:>6} {:>8} {:>6} {:>10} {:>9} {:>10} {:>9} {:>9}",
        "seeder -> leecher",
        "MiB",
        "secs",
        "MiB/s",
        "×bound",
        "xfer/s",
        "TTFB s",
        "leech anon",
        "leech rss",
        "seed anon",
        "l cpu/GiB",
        "s cpu/GiB"
    );
}

pub fn print_row(r: &Row, bound: f64) {
    let rate = r.mib as f64 / r.secs;
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "{:<32} {:>5} {:>7.2} {:>8.1} {:>6.2} {} {} {:>6.1} MiB {:>5.1} MiB {:>6.1} MiB {:>7.2} s {:>7.2} s",
        r.pair.label(),
        r.mib,
        r.secs,
        rate,
        rate / bound,
        opt(r.transfer_mib_s, 8, 1),
        opt(r.ttfb, 6, 3),
        mib(r.leecher_anon),
        mib(r.leecher_rss),
        mib(r.seeder_anon),
        r.leecher_cpu / r.gib(),
        r.seeder_cpu / r.gib()
    );
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// One pair's medians over its runs.
struct Med {
    pair: Pair,
    mib: u64,
    runs: usize,
    mib_s: f64,
    xfer: Option<f64>,
    ttfb: Option<f64>,
    leech_cpu: f64,
    seed_cpu: f64,
    leech_anon: f64,
    seed_anon: f64,
}

fn medians(rows: &[Row]) -> Vec<Med> {
    let mut pairs: Vec<(Pair, u64)> = Vec::new();
    for r in rows {
        if !pairs.contains(&(r.pair, r.mib)) {
            pairs.push((r.pair, r.mib));
        }
    }
    pairs
        .into_iter()
        .map(|(pair, mib)| {
            let of: Vec<&Row> = rows
                .iter()
                .filter(|r| r.pair == pair && r.mib == mib)
                .collect();
            let m = |f: &dyn Fn(&Row) -> f64| median(of.iter().map(|r| f(r)).collect());
            let mo =
                |f: &dyn Fn(&Row) -> Option<f64>| median(of.iter().filter_map(|r| f(r)).collect());
            Med {
                pair,
                mib,
                runs: of.len(),
                mib_s: m(&|r| r.mib as f64 / r.secs).unwrap_or(f64::NAN),
                xfer: mo(&|r| r.transfer_mib_s),
                ttfb: mo(&|r| r.ttfb),
                leech_cpu: m(&|r| r.leecher_cpu / r.gib()).unwrap_or(f64::NAN),
                seed_cpu: m(&|r| r.seeder_cpu / r.gib()).unwrap_or(f64::NAN),
                leech_anon: m(&|r| r.leecher_anon as f64 / 1024.0).unwrap_or(f64::NAN),
                seed_anon: m(&|r| r.seeder_anon as f64 / 1024.0).unwrap_or(f64::NAN),
            }
        })
        .collect()
}

/// The role bidtorrent plays in a row, and which real rows it is judged against.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Pair,
    Leecher,
    Seeder,
}

impl Role {
    fn of(p: &Pair) -> Option<Role> {
        match (p.seeder == Client::Bt, p.leecher == Client::Bt) {
            (true, true) => Some(Role::Pair),
            (false, true) => Some(Role::Leecher),
            (true, false) => Some(Role::Seeder),
            (false, false) => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Pair => "pair",
            Role::Leecher => "leecher",
            Role::Seeder => "seeder",
        }
    }

    /// Whether `o` is a real-client row to set beside bidtorrent's row `bt` in this role:
    /// pair X->X; as leecher X->Y for bt's seeder X; as seeder X->Y for bt's leecher Y.
    fn rival(self, bt: &Med, o: &Med) -> bool {
        let (p, q) = (&bt.pair, &o.pair);
        let real = |c: Client| c != Client::Bt;
        let same = o.mib == bt.mib && q.flavor == p.flavor;
        same && match self {
            Role::Pair => q.seeder == q.leecher && real(q.seeder),
            Role::Leecher => q.seeder == p.seeder && real(q.leecher),
            Role::Seeder => q.leecher == p.leecher && real(q.seeder),
        }
    }

    /// The target for MiB/s against the best rival.
    fn target(self) -> &'static str {
        match self {
            Role::Pair => "≥ 2×",
            _ => "> 1×",
        }
    }
}

/// Medians per pair, then bidtorrent / the best real client per role and measure.
pub fn print_medians(rows: &[Row], bound: f64) {
    let meds = medians(rows);
    println!("\nmedians over the runs:");
    println!(
        "{:<32} {:>5} {:>4} {:>8} {:>6} {:>8} {:>7} {:>9} {:>9} {:>10} {:>10}",
        "seeder -> leecher",
        "MiB",
        "runs",
        "MiB/s",
        "×bound",
        "xfer/s",
        "TTFB s",
        "l cpu/GiB",
        "s cpu/GiB",
        "leech anon",
        "seed anon"
    );
    for m in &meds {
        println!(
            "{:<32} {:>5} {:>4} {:>8.1} {:>6.2} {} {} {:>7.2} s {:>7.2} s {:>6.1} MiB {:>6.1} MiB",
            m.pair.label(),
            m.mib,
            m.runs,
            m.mib_s,
            m.mib_s / bound,
            opt(m.xfer, 8, 1),
            opt(m.ttfb, 7, 3),
            m.leech_cpu,
            m.seed_cpu,
            m.leech_anon,
            m.seed_anon
        );
    }

    println!("\nbidtorrent / best real client in the same role (medians; best per measure):");
    println!(
        "  targets: pair ≥ 2× MiB/s; leecher and seeder > 1× MiB/s; TTFB ≤ 1×; leecher CPU/GiB \
         below aria2's (< 1×); leecher peak anon RSS < 32 MiB"
    );
    for bt in &meds {
        let Some(role) = Role::of(&bt.pair) else {
            continue;
        };
        let rivals: Vec<&Med> = meds.iter().filter(|o| role.rival(bt, o)).collect();
        println!(
            "  as {:<7} {} ({} MiB)",
            role.name(),
            bt.pair.label(),
            bt.mib
        );
        if rivals.is_empty() {
            println!("      no real row to compare with");
            continue;
        }
        // Higher is better for rates, lower for CPU and TTFB; each against its own best.
        let best = |f: &dyn Fn(&Med) -> Option<f64>, higher: bool| {
            rivals
                .iter()
                .filter_map(|o| Some((f(o)?, o.pair.label())))
                .filter(|(v, _)| v.is_finite())
                .max_by(|a, b| {
                    if higher {
                        a.0.total_cmp(&b.0)
                    } else {
                        b.0.total_cmp(&a.0)
                    }
                })
        };
        let line = |what: &str, f: &dyn Fn(&Med) -> Option<f64>, higher: bool, target: &str| match (
            f(bt),
            best(f, higher),
        ) {
            (Some(mine), Some((theirs, who))) if theirs > 0.0 => println!(
                "      {what:<22} {:>6.2}×  (best {who}; target {target})",
                mine / theirs
            ),
            _ => println!("      {what:<22}      -  (not measured)"),
        };
        let cpu = |m: &Med| {
            Some(if role == Role::Seeder {
                m.seed_cpu
            } else {
                m.leech_cpu
            })
        };
        line(
            "MiB/s whole process",
            &|m| Some(m.mib_s),
            true,
            role.target(),
        );
        line("MiB/s transfer", &|m| m.xfer, true, role.target());
        line("CPU-s per GiB", &cpu, false, "< 1×");
        line("TTFB (bt/best)", &|m| m.ttfb, false, "≤ 1×");
        if role != Role::Seeder {
            // The leecher's CPU against aria2 leeching from the same seeder.
            let aria2 = meds.iter().find(|o| {
                role.rival(bt, o) && o.pair.leecher == Client::Aria2 && {
                    role != Role::Pair || o.pair.seeder == Client::Aria2
                }
            });
            if let Some(a) = aria2 {
                println!(
                    "      {:<22} {:>6.2}×  ({}; target < 1×)",
                    "leecher CPU/GiB / aria2",
                    bt.leech_cpu / a.leech_cpu,
                    a.pair.label()
                );
            }
            println!(
                "      {:<22} {:>6.1} MiB (target < 32 MiB)",
                "leecher peak anon RSS", bt.leech_anon
            );
        }
    }
}
