//! Small text policies the command line shares: "did you mean" suggestions by edit distance,
//! and the natural order of environment names (`env-2` before `env-10`).

use std::cmp::Ordering;

/// The candidate closest to `word`, when it is close enough to be a likely typo: at most a
/// third of the longer one's length in edits (at least one; a transposition is one edit, so
/// `deadline` finds `deadline_ms`), case ignored. Ties go to the first candidate in the order
/// given.
pub fn closest<'a, I, S>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a S>,
    S: AsRef<str> + ?Sized + 'a,
{
    let wanted = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let candidate = candidate.as_ref();
        if candidate == word {
            continue;
        }
        let limit = (wanted.chars().count().max(candidate.chars().count()) / 3).max(1);
        let distance = strsim::damerau_levenshtein(&wanted, &candidate.to_lowercase());
        if distance <= limit && best.is_none_or(|(shortest, _)| distance < shortest) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// ` (did you mean "X"?)`, or nothing: to append to an "unknown …" message.
pub fn did_you_mean<'a, I, S>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a S>,
    S: AsRef<str> + ?Sized + 'a,
{
    closest(word, candidates)
        .map_or_else(String::new, |found| format!(" (did you mean {found:?}?)"))
}

/// Natural order: runs of digits compare as numbers, so `env-2` < `env-10`; otherwise by text.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (digits_a, rest_a) = split_digits(a);
                let (digits_b, rest_b) = split_digits(b);
                let (trimmed_a, trimmed_b) = (
                    digits_a.trim_start_matches('0'),
                    digits_b.trim_start_matches('0'),
                );
                let order = trimmed_a
                    .len()
                    .cmp(&trimmed_b.len())
                    .then_with(|| trimmed_a.cmp(trimmed_b))
                    // `01` after `1`, so that distinct names never compare equal.
                    .then_with(|| digits_a.len().cmp(&digits_b.len()));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (rest_a, rest_b);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

fn split_digits(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

/// Sorts names in natural order.
pub fn natural_sort(names: &mut [String]) {
    names.sort_by(|a, b| natural_cmp(a, b));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name_within_a_third_of_its_length() {
        let roles = [
            "Identity Data Admin",
            "Environment Admin",
            "Organization Admin",
        ];
        assert_eq!(
            closest("Identity Data Admn", &roles),
            Some("Identity Data Admin")
        );
        assert_eq!(
            closest("environment admin", &roles),
            Some("Environment Admin")
        );
        assert_eq!(closest("Root", &roles), None);
        assert_eq!(
            closest("grnat_role", ["grant_role", "revoke_role"]),
            Some("grant_role")
        );
        // Short words allow one edit only.
        assert_eq!(closest("nme", ["name"]), Some("name"));
        assert_eq!(closest("xy", ["name"]), None);
        assert_eq!(
            did_you_mean("staging2", ["staging", "prod"]),
            " (did you mean \"staging\"?)"
        );
        assert_eq!(did_you_mean("qa", ["staging", "prod"]), "");
    }

    #[test]
    fn natural_order_compares_numbers_as_numbers() {
        let mut names: Vec<String> = [
            "env-10", "env-2", "env-1", "prod", "env-02", "a10b2", "a10b10",
        ]
        .map(String::from)
        .to_vec();
        natural_sort(&mut names);
        assert_eq!(
            names,
            [
                "a10b2", "a10b10", "env-1", "env-2", "env-02", "env-10", "prod"
            ]
        );
        assert_eq!(natural_cmp("env-9", "env-10"), Ordering::Less);
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
    }
}
