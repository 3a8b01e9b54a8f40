//! Which backups to prune: pure, so the rule is tested without storage.

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Keep the newest `keep_last`, and those younger than `max_age`; when both
/// are set a backup must satisfy both to stay. The newest backup always stays.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Retention {
    pub keep_last: Option<u32>,
    pub max_age: Option<SignedDuration>,
}

/// The ids to delete, from `(id, started)` of complete backups.
pub fn to_prune(backups: &[(String, Timestamp)], policy: Retention, now: Timestamp) -> Vec<String> {
    let mut newest_first: Vec<&(String, Timestamp)> = backups.iter().collect();
    newest_first.sort_by(|a, b| b.0.cmp(&a.0));
    newest_first
        .into_iter()
        .enumerate()
        .filter(|(index, (_, started))| {
            let beyond_count = policy.keep_last.is_some_and(|n| *index >= n as usize);
            let too_old = policy.max_age.is_some_and(|age| now.duration_since(*started) > age);
            *index > 0 && (beyond_count || too_old)
        })
        .map(|(_, (id, _))| id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backups(hours_ago: &[i64], now: Timestamp) -> Vec<(String, Timestamp)> {
        hours_ago
            .iter()
            .map(|h| {
                let t = now - SignedDuration::from_hours(*h);
                (super::super::backup_id(t, 0), t)
            })
            .collect()
    }

    #[test]
    fn keeps_exactly_the_newest_n() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let all = backups(&[1, 2, 3, 4, 5], now);
        let policy = Retention { keep_last: Some(3), max_age: None };
        let pruned = to_prune(&all, policy, now);
        assert_eq!(pruned, vec![all[3].0.clone(), all[4].0.clone()]);
    }

    #[test]
    fn drops_what_is_older_than_max_age_but_never_the_newest() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let all = backups(&[30, 40, 50], now);
        let policy = Retention { keep_last: None, max_age: Some(SignedDuration::from_hours(24)) };
        assert_eq!(to_prune(&all, policy, now), vec![all[1].0.clone(), all[2].0.clone()]);
        assert!(to_prune(&all, Retention::default(), now).is_empty(), "no policy keeps everything");
    }

    #[test]
    fn both_limits_apply() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let all = backups(&[1, 2, 100], now);
        let policy = Retention { keep_last: Some(5), max_age: Some(SignedDuration::from_hours(48)) };
        assert_eq!(to_prune(&all, policy, now), vec![all[2].0.clone()]);
    }
}
