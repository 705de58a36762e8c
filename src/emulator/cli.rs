//! The `p1run emulator` flags. Clap types stay here; [`EmulatorArgs::options`] turns them into
//! validated [`EmulatorOptions`].

use super::EmulatorOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Run a local PingOne emulator: prints one JSON line (URLs, ids, the bootstrap worker's
/// credentials) on stdout, then serves until Ctrl-C.
#[derive(clap::Args, Debug, Clone)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,

    /// Number of environments to seed, named env-1 … env-N.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub environments: usize,

    /// Keep the state in FILE across restarts (loaded if present, else seeded and saved).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Milliseconds added to every request.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency: u64,

    /// Requests per second per client before 429 REQUEST_LIMITED, e.g. 10/s.
    #[arg(long, value_name = "N/s")]
    pub rate_limit: Option<String>,

    /// Probability (0 to 1) of a random 500/502/503 on a management request.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_rate: f64,

    /// Probability (0 to 1) that a successful management POST answers 502 anyway (the write
    /// happened, the answer was "lost"), to test that clients do not blindly re-send.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub lost_answer_rate: f64,

    /// Seed for the fault generator, to replay the same faults.
    #[arg(long, value_name = "SEED")]
    pub seed: Option<u64>,

    /// Milliseconds before a new role grant counts and a new application can be read by id.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub propagation_delay: u64,
}

/// At most this many environments, so a typo cannot seed millions.
const MAX_ENVIRONMENTS: usize = 1000;

impl EmulatorArgs {
    /// The options these flags stand for, or what is wrong with them.
    pub fn options(&self) -> Result<EmulatorOptions, String> {
        if !(1..=MAX_ENVIRONMENTS).contains(&self.environments) {
            return Err(format!(
                "--environments must be between 1 and {MAX_ENVIRONMENTS}"
            ));
        }
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err("--fault-rate must be between 0 and 1".to_owned());
        }
        if !(0.0..=1.0).contains(&self.lost_answer_rate) {
            return Err("--lost-answer-rate must be between 0 and 1".to_owned());
        }
        let rate_limit = self.rate_limit.as_deref().map(parse_rate).transpose()?;
        Ok(EmulatorOptions {
            listen: self.listen,
            environments: self.environments,
            state_file: self.state.clone(),
            latency: Duration::from_millis(self.latency),
            rate_limit,
            fault_rate: self.fault_rate,
            lost_answer_rate: self.lost_answer_rate,
            seed: self.seed,
            propagation_delay: Duration::from_millis(self.propagation_delay),
            ..EmulatorOptions::default()
        })
    }
}

/// `10/s` or `10`.
fn parse_rate(value: &str) -> Result<u32, String> {
    let number = value.trim().strip_suffix("/s").unwrap_or(value.trim());
    number
        .parse::<u32>()
        .ok()
        .filter(|&rate| rate > 0)
        .ok_or_else(|| {
            format!(
                "--rate-limit must look like 10/s (a positive number per second), not {value:?}"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn parse(args: &[&str]) -> Result<EmulatorOptions, String> {
        let wrapper =
            Wrapper::try_parse_from(std::iter::once("emulator").chain(args.iter().copied()))
                .map_err(|error| error.to_string())?;
        wrapper.args.options()
    }

    #[test]
    fn defaults_listen_on_8443_with_one_environment_and_no_faults() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.listen, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(options.environments, 1);
        assert_eq!(options.rate_limit, None);
        assert!(
            options.fault_rate == 0.0
                && options.latency.is_zero()
                && options.propagation_delay.is_zero()
        );
    }

    #[test]
    fn every_flag_maps_onto_its_option() {
        let options = parse(&[
            "--listen=127.0.0.1:0",
            "--environments=3",
            "--state=/tmp/p1run-state.json",
            "--latency=5",
            "--rate-limit=10/s",
            "--fault-rate=0.25",
            "--seed=42",
            "--propagation-delay=250",
        ])
        .unwrap();
        assert_eq!(options.listen.port(), 0);
        assert_eq!(options.environments, 3);
        assert_eq!(
            options.state_file,
            Some(PathBuf::from("/tmp/p1run-state.json"))
        );
        assert_eq!(options.latency, Duration::from_millis(5));
        assert_eq!(options.rate_limit, Some(10));
        assert!((options.fault_rate - 0.25).abs() < f64::EPSILON);
        assert_eq!(options.seed, Some(42));
        assert_eq!(options.propagation_delay, Duration::from_millis(250));
    }

    #[test]
    fn nonsense_values_are_refused_with_the_flag_named() {
        for (args, flag) in [
            (&["--rate-limit=fast"][..], "--rate-limit"),
            (&["--rate-limit=0/s"][..], "--rate-limit"),
            (&["--fault-rate=1.5"][..], "--fault-rate"),
            (&["--environments=0"][..], "--environments"),
        ] {
            let error = parse(args).unwrap_err();
            assert!(error.contains(flag), "{args:?}: {error}");
        }
        assert_eq!(parse(&["--rate-limit=7"]).unwrap().rate_limit, Some(7));
    }
}
