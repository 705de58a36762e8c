//! How much a process may send PingOne per license: `--shard I/N` and `[fleet]`'s
//! `requests_per_second`, `shard_budget` and `address_share` (docs/pingone.md, "Retries and
//! rate limits"). Its own module so that a run's shared state and a fleet both use it
//! without importing each other.

use crate::config::{FleetSettings, ShardBudget};
use serde::Serialize;

/// `--shard I/N`: this CI job's share of a fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index of this shard.
    pub index: usize,
    /// How many shards there are.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("expected I/N with 1 <= I <= N, e.g. 2/4; got {text:?}");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = index.trim().parse().map_err(|_| bad())?;
        let count: usize = count.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    /// The names this shard takes from a sorted list: every N-th, starting at the I-th, so that
    /// shards stay balanced and every name lands in exactly one.
    pub fn take(self, names: Vec<String>) -> Vec<String> {
        names
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index - 1)
            .map(|(_, n)| n)
            .collect()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Serialize for Shard {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// How much of each license's request budget this process may send: the license's
/// `requests_per_second`, times `1/N` for shard I/N under `shard_budget = "split"`, capped at
/// `address_share` of it when the target is PingOne (one machine is one IP address to
/// PingOne). Stated at `-v` and in the fleet report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetPolicy {
    /// `[fleet] requests_per_second`: what every process together may send per license.
    pub requests_per_second: u32,
    /// This process's `--shard`, if any.
    pub shard: Option<Shard>,
    /// `[fleet] shard_budget`.
    pub shard_budget: ShardBudget,
    /// `[fleet] address_share`.
    pub address_share: f64,
}

impl BudgetPolicy {
    /// The policy of `[fleet]` for this process's shard.
    pub fn new(settings: &FleetSettings, shard: Option<Shard>) -> Self {
        Self {
            requests_per_second: settings.requests_per_second,
            shard,
            shard_budget: settings.shard_budget,
            address_share: settings.address_share,
        }
    }

    /// This process's share of the license budget before the per-address cap.
    fn shard_share(&self) -> f64 {
        match (self.shard, self.shard_budget) {
            (Some(shard), ShardBudget::Split) => 1.0 / shard.count as f64,
            _ => 1.0,
        }
    }

    /// This process's fraction of one license's budget. `pingone` is false for an API on
    /// loopback (an emulator): PingOne's per-address limit is PingOne's, and lifting it there
    /// keeps test and bench runs as fast as they were; the license budget and the shard split
    /// still apply, so an emulator's `--rate-limit` still sees what PingOne would.
    pub fn share(&self, pingone: bool) -> f64 {
        let shard = self.shard_share();
        if pingone {
            shard.min(self.address_share)
        } else {
            shard
        }
    }

    /// Requests a second this process may send on one license.
    pub fn per_second(&self, pingone: bool) -> f64 {
        f64::from(self.requests_per_second) * self.share(pingone)
    }

    /// One line saying what this process may send on `license`, and why.
    pub fn describe(&self, license: &str, pingone: bool) -> String {
        let mut why = Vec::new();
        match (self.shard, self.shard_budget) {
            (Some(shard), ShardBudget::Split) => why.push(format!(
                "1/{} for shard {shard} ([fleet] shard_budget = \"split\")",
                shard.count
            )),
            (Some(shard), ShardBudget::Full) => why.push(format!(
                "the whole budget for shard {shard} ([fleet] shard_budget = \"full\")"
            )),
            (None, _) => {}
        }
        if pingone && self.address_share < self.shard_share() {
            why.push(format!(
                "capped at {}% per address ([fleet] address_share = {})",
                self.address_share * 100.0,
                self.address_share
            ));
        } else if !pingone && self.address_share < self.shard_share() {
            why.push("no per-address cap: the API is on loopback (an emulator)".to_owned());
        }
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(": {}", why.join(", "))
        };
        format!(
            "request budget of license {}: {:.2} requests/s of [fleet] requests_per_second = {}{why}",
            license_label(license),
            self.per_second(pingone),
            self.requests_per_second
        )
    }
}

/// How reports and logs name a license: environments without `license` share one, `default`.
pub fn license_label(license: &str) -> &str {
    if license.is_empty() {
        "default"
    } else {
        license
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(shard: Option<&str>, shard_budget: ShardBudget) -> BudgetPolicy {
        BudgetPolicy::new(
            &FleetSettings {
                shard_budget,
                ..FleetSettings::default()
            },
            shard.map(|s| s.parse().unwrap()),
        )
    }

    #[test]
    fn shards_split_the_license_budget_and_one_address_never_exceeds_its_share() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // One process against PingOne: 35% of 8/s, under PingOne's 35% of 10/s per address.
        let alone = policy(None, ShardBudget::Split);
        assert!(close(alone.per_second(true), 2.8));
        // Against an emulator on loopback: the whole budget, as before.
        assert!(close(alone.per_second(false), 8.0));
        // Three shards: a third each, everywhere; together the license budget.
        let third = policy(Some("2/3"), ShardBudget::Split);
        assert!(close(third.per_second(false), 8.0 / 3.0));
        assert!(close(third.per_second(true), 8.0 / 3.0));
        // Two shards: half would break the per-address share against PingOne.
        let half = policy(Some("1/2"), ShardBudget::Split);
        assert!(close(half.per_second(false), 4.0));
        assert!(close(half.per_second(true), 2.8));
        // "full": every shard the whole budget, still capped per address.
        let full = policy(Some("1/3"), ShardBudget::Full);
        assert!(close(full.per_second(false), 8.0));
        assert!(close(full.per_second(true), 2.8));
        let said = third.describe("", false);
        assert!(
            said.contains("license default: 2.67 requests/s")
                && said.contains("1/3 for shard 2/3")
                && said.contains("shard_budget = \"split\""),
            "{said}"
        );
        assert!(
            alone
                .describe("prod", true)
                .contains("capped at 35% per address")
        );
    }
}
