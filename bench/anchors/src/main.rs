//! The cggmp21 anchor bench: the Rust reference implementation (crate `cggmp21` from crates.io)
//! runs keygen, aux-info from pregenerated primes, presign and sign in this one process and prints
//! one JSON line per (level, phase) on stdout: every run's wall and CPU time in milliseconds.
//! `bench/anchors.ts` builds it, runs it, checks its output and sets it beside our own rows.
//!
//! Scheduling: all parties of a session run in this one thread, through round_based's
//! synchronous simulator (each party a state machine, messages delivered in memory), as our
//! in-process rows run every party on one Node event loop.
//!
//! Usage: vilna-anchor-cggmp21 [--runs N] [--aux-runs N] [--n N] [--t T] [--primes FILE]
//!                             [--configs matched,stock,matched+speedups]
//! A config is a security level (`matched`: ours; `stock`: cggmp21's SecurityLevel128), with
//! `+speedups` for cggmp21's optional multi-exponentiation tables and CRT in aux-info (off by
//! default in the crate; they make aux-info longer and presigning shorter).

use std::process::ExitCode;
use std::time::Instant;

use cggmp21::key_refresh::PregeneratedPrimes;
use cggmp21::key_share::AnyKeyShare;
use cggmp21::rug::Integer;
use cggmp21::security_level::{KeygenSecurityLevel, SecurityLevel, SecurityLevel128};
use cggmp21::supported_curves::Secp256k1;
use cggmp21::{DataToSign, ExecutionId, KeyShare, PartialSignature, Presignature};
use rand_core::{OsRng, RngCore};
use serde_json::json;

/// vilna-mpc's SECURITY_LEVEL_128 (cggmp/params.ts) in cggmp21's terms: κ = 384 gives 1536-bit
/// primes and so 3072-bit moduli, ε = 512, ℓ = 256, ℓ′ = 1280, m = 128. The challenge bound q
/// is the one cggmp21's own 128-bit level uses.
#[derive(Clone)]
pub struct Matched;
cggmp21::define_security_level!(Matched {
    security_bits = 384,
    epsilon = 512,
    ell = 256,
    ell_prime = 1280,
    m = 128,
    q = (Integer::ONE << 128_u32).into(),
});

type Fail = Box<dyn std::error::Error>;

struct Args {
    runs: usize,
    aux_runs: usize,
    n: u16,
    t: u16,
    configs: Vec<String>,
    primes: Option<String>,
}

fn parse_args() -> Result<Args, Fail> {
    let mut a = Args { runs: 5, aux_runs: 3, n: 3, t: 2, configs: vec!["matched".into(), "stock".into(), "matched+speedups".into()], primes: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--runs" => a.runs = value()?.parse()?,
            "--aux-runs" => a.aux_runs = value()?.parse()?,
            "--n" => a.n = value()?.parse()?,
            "--t" => a.t = value()?.parse()?,
            "--configs" => a.configs = value()?.split(',').map(String::from).collect(),
            "--primes" => a.primes = Some(value()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if a.runs == 0 || a.aux_runs == 0 {
        return Err("--runs and --aux-runs must be at least 1".into());
    }
    if a.t < 2 || a.t > a.n {
        return Err("need 2 <= t <= n".into());
    }
    Ok(a)
}

/// CPU time of this process (all threads; there is one), milliseconds.
fn cpu_ms() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

#[derive(Default)]
struct Samples {
    wall_ms: Vec<f64>,
    cpu_ms: Vec<f64>,
}

impl Samples {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (w0, c0) = (Instant::now(), cpu_ms());
        let out = f();
        self.cpu_ms.push(cpu_ms() - c0);
        self.wall_ms.push(w0.elapsed().as_secs_f64() * 1e3);
        out
    }
}

fn fresh_eid() -> [u8; 32] {
    let mut eid = [0u8; 32];
    OsRng.fill_bytes(&mut eid);
    eid
}

/// Collects every party's result of one simulated session, or the first error.
fn all_ok<T, E: std::fmt::Debug>(phase: &str, out: Result<round_based::sim::SimResult<Result<T, E>>, round_based::sim::SimError>) -> Result<Vec<T>, Fail> {
    let out = out.map_err(|e| format!("{phase}: simulation failed: {e}"))?;
    out.into_vec()
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| format!("{phase}: party {i} failed: {e:?}").into()))
        .collect()
}

/// Safe primes for aux-info, made before anything is timed: read from a fixture file
/// ({"primes": {"1536": [hex, …]}}) or generated here.
fn pregenerated_primes(args: &Args, bits: u32) -> Result<Vec<(Integer, Integer)>, Fail> {
    let n = usize::from(args.n);
    if let Some(path) = &args.primes {
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let list = doc["primes"][bits.to_string()].as_array().ok_or_else(|| format!("{path}: no {bits}-bit primes"))?;
        if list.len() < 2 * n {
            return Err(format!("{path}: {} primes of {bits} bits, need {}", list.len(), 2 * n).into());
        }
        let parse = |v: &serde_json::Value| -> Result<Integer, Fail> {
            let hex = v.as_str().ok_or("prime is not a string")?;
            Ok(Integer::from_str_radix(hex, 16)?)
        };
        return (0..n).map(|i| Ok((parse(&list[2 * i])?, parse(&list[2 * i + 1])?))).collect();
    }
    let t0 = Instant::now();
    let out = (0..n)
        .map(|_| PregeneratedPrimes::<SecurityLevel128>::generate(&mut OsRng).split())
        .collect();
    eprintln!("anchor: generated {} safe primes of {bits} bits in {:.1} s", 2 * n, t0.elapsed().as_secs_f64());
    Ok(out)
}

fn row(phase: &str, level: &str, parties: u16, args: &Args, speedups: bool, s: &Samples) -> serde_json::Value {
    json!({
        "kind": "phase",
        "phase": phase,
        "level": level,
        "n": args.n,
        "t": args.t,
        "parties": parties,
        "speedups": if speedups { "multiexp-tables+crt" } else { "none" },
        "schedule": "one thread, round_based::sim (state machines)",
        "wallMs": s.wall_ms,
        "cpuMs": s.cpu_ms,
    })
}

/// Runs every phase at security level `L` and prints one line per phase.
fn bench_level<L: SecurityLevel>(name: &str, speedups: bool, args: &Args, primes: &[(Integer, Integer)]) -> Result<(), Fail> {
    let (n, t) = (args.n, args.t);
    let params = json!({
        "kind": "level", "level": name, "speedups": if speedups { "multiexp-tables+crt" } else { "none" },
        "epsilon": L::EPSILON, "ell": L::ELL, "ellPrime": L::ELL_PRIME, "m": L::M,
        "modulusBits": 8 * <L as KeygenSecurityLevel>::SECURITY_BITS,
    });
    println!("{params}");

    // Keygen: t-of-n, with the HD chain code, as ours.
    let mut keygen = Samples::default();
    let mut cores = Vec::new();
    for _ in 0..args.runs {
        let eid = fresh_eid();
        let out = keygen.time(|| {
            round_based::sim::run(n, |i, party| async move {
                cggmp21::keygen::<Secp256k1>(ExecutionId::new(&eid), i, n)
                    .set_threshold(t)
                    .set_security_level::<L>()
                    .hd_wallet(true)
                    .start(&mut OsRng, party)
                    .await
            })
        });
        cores = all_ok("keygen", out)?;
    }
    println!("{}", row("keygen", name, n, args, speedups, &keygen));

    // Aux-info from pregenerated primes (untimed: the analogue of our pooled primes).
    let mut aux = Samples::default();
    let mut aux_infos = Vec::new();
    for _ in 0..args.aux_runs {
        let eid = fresh_eid();
        let pre: Vec<PregeneratedPrimes<L>> = primes
            .iter()
            .map(|(p, q)| PregeneratedPrimes::new(p.clone(), q.clone()).ok_or("pregenerated primes too small"))
            .collect::<Result<_, _>>()?;
        let out = aux.time(|| {
            round_based::sim::run_with_setup(pre, |i, party, pre| async move {
                cggmp21::aux_info_gen(ExecutionId::new(&eid), i, n, pre)
                    .precompute_multiexp_tables(speedups)
                    .precompute_crt(speedups)
                    .start(&mut OsRng, party)
                    .await
            })
        });
        aux_infos = all_ok("aux-info", out)?;
    }
    println!("{}", row("aux-info", name, n, args, speedups, &aux));

    let shares: Vec<KeyShare<Secp256k1, L>> = cores
        .into_iter()
        .zip(aux_infos)
        .map(|parts| KeyShare::from_parts(parts).map_err(|e| format!("key share: {e}")))
        .collect::<Result<_, _>>()?;
    let public_key = shares[0].shared_public_key().into_inner();

    // Presign: the first t parties; each run's presignatures feed one sign run below.
    let signers: Vec<u16> = (0..t).collect();
    let mut presign = Samples::default();
    let mut stock: Vec<Vec<Presignature<Secp256k1>>> = Vec::new();
    for _ in 0..args.runs {
        let eid = fresh_eid();
        let (signers, shares) = (&signers, &shares);
        let out = presign.time(|| {
            round_based::sim::run(t, |i, party| async move {
                cggmp21::signing(ExecutionId::new(&eid), i, signers, &shares[usize::from(signers[usize::from(i)])])
                    .generate_presignature(&mut OsRng, party)
                    .await
            })
        });
        stock.push(all_ok("presign", out)?);
    }
    println!("{}", row("presign", name, t, args, speedups, &presign));

    // Sign: each signer hashes the message and issues its partial signature; combine; verify.
    let message = b"bench";
    let mut sign = Samples::default();
    for presigs in stock {
        sign.time(|| -> Result<(), Fail> {
            let partials: Vec<PartialSignature<Secp256k1>> = presigs
                .into_iter()
                .map(|p| p.issue_partial_signature(DataToSign::digest::<sha2::Sha256>(message)))
                .collect();
            let sig = PartialSignature::combine(&partials).ok_or("combine: malformed partial signatures")?;
            sig.verify(&public_key, &DataToSign::digest::<sha2::Sha256>(message)).map_err(|_| "signature does not verify")?;
            Ok(())
        })?;
    }
    println!("{}", row("sign", name, t, args, speedups, &sign));
    Ok(())
}

fn run() -> Result<(), Fail> {
    let args = parse_args()?;
    let primes = pregenerated_primes(&args, 4 * <SecurityLevel128 as KeygenSecurityLevel>::SECURITY_BITS)?;
    for config in &args.configs {
        let (level, speedups) = match config.strip_suffix("+speedups") {
            Some(level) => (level, true),
            None => (config.as_str(), false),
        };
        match level {
            "matched" => bench_level::<Matched>("matched", speedups, &args, &primes)?,
            "stock" => bench_level::<SecurityLevel128>("stock", speedups, &args, &primes)?,
            other => return Err(format!("unknown level {other} (matched, stock)").into()),
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("anchor: {e}");
            ExitCode::FAILURE
        }
    }
}
