//! [`TopicAccess`]: which topics a REST Proxy request may reach, decided before producing.
//!
//! Two checks, both without blocking a request: the allowlist (`--allow-topic`, literal
//! names and `*`/`?` globs) and a cache of the topics the cluster has, with their
//! partition counts. The cache is filled at start-up and replaced by a background
//! refresh ([`crate::Gateway::refresh_topics`], every `--topic-refresh-ms`); a request
//! only takes a read lock. A topic outside the allowlist is answered exactly like a
//! missing one (404, 40401), so the gateway does not reveal which topics exist.
//!
//! Staleness: a topic created after the last refresh is refused as unknown until the
//! next refresh; a topic deleted since is still produced to, and its records then fail
//! per record (librdkafka reports the unknown topic). A topic whose metadata shows a
//! transient error at a refresh keeps its entry ([`TopicAccess::refresh`]).

use std::collections::HashMap;
use std::sync::RwLock;

use kafka_sink::TopicListing;

use crate::Rejection;

/// The allowlist and the cache of existing topics.
#[derive(Debug)]
pub struct TopicAccess {
    allowed: Vec<String>,
    /// `None`: no cluster to ask (null or memory sink), every allowed topic exists and
    /// partitions are not checked.
    known: RwLock<Option<HashMap<String, usize>>>,
}

impl TopicAccess {
    /// Access to the topics matching any of `allowed` (names or globs with `*` and `?`).
    /// Until [`TopicAccess::set_known`] is called, every allowed topic counts as existing.
    pub fn new(allowed: Vec<String>) -> Self {
        Self {
            allowed,
            known: RwLock::new(None),
        }
    }

    /// The allowlist's entries.
    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    /// Whether `topic` matches the allowlist.
    pub fn is_allowed(&self, topic: &str) -> bool {
        self.allowed
            .iter()
            .any(|pattern| glob_matches(pattern, topic))
    }

    /// Replaces the cache with `topics` (name, partition count), as listed by the cluster.
    pub fn set_known(&self, topics: impl IntoIterator<Item = (String, usize)>) {
        let topics = topics.into_iter().collect();
        *self
            .known
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = Some(topics);
    }

    /// Updates the cache from a refresh's listing: the listed topics with their
    /// partition counts; a topic listed as transient (the cluster has it, but its
    /// metadata showed an error such as "leader not available") keeps its previous
    /// entry, so a leader election does not answer 404 until the next refresh; every
    /// other topic is dropped, since the cluster no longer has it.
    pub fn refresh(&self, listing: TopicListing) {
        let TopicListing {
            available,
            transient,
            ..
        } = listing;
        let mut known = self
            .known
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut next: HashMap<String, usize> = available.into_iter().collect();
        if let Some(previous) = known.as_ref() {
            for topic in transient {
                if let Some(&partitions) = previous.get(&topic) {
                    next.entry(topic).or_insert(partitions);
                }
            }
        }
        *known = Some(next);
    }

    /// Checks that `topic` is allowed and known, and that `partition` (if any) exists;
    /// decided from the cache alone.
    pub fn check(&self, topic: &str, partition: Option<i32>) -> Result<(), Rejection> {
        let unknown = || Rejection::UnknownTopic {
            topic: topic.to_owned(),
        };
        if !self.is_allowed(topic) {
            return Err(unknown());
        }
        let known = self
            .known
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let Some(known) = known.as_ref() else {
            return Ok(());
        };
        let partitions = *known.get(topic).ok_or_else(unknown)?;
        match partition {
            Some(partition) if partition < 0 || partition as usize >= partitions => {
                Err(Rejection::UnknownPartition {
                    topic: topic.to_owned(),
                    partition,
                })
            }
            _ => Ok(()),
        }
    }

    /// The allowed topics that exist, sorted: for `GET /topics`. Without a cluster to
    /// ask, the allowlist's literal names.
    pub fn list(&self) -> Vec<String> {
        let known = self
            .known
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut names: Vec<String> = match known.as_ref() {
            Some(known) => known
                .keys()
                .filter(|name| self.is_allowed(name))
                .cloned()
                .collect(),
            None => self
                .allowed
                .iter()
                .filter(|pattern| !pattern.contains(['*', '?']))
                .cloned()
                .collect(),
        };
        names.sort();
        names.dedup();
        names
    }
}

/// `*` matches any run of characters (also none), `?` exactly one; nothing else is special.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was and which text position it is currently matched up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_names() {
        for (pattern, text, expected) in [
            ("events", "events", true),
            ("events", "events2", false),
            ("events.*", "events.web", true),
            ("events.*", "events.", true),
            ("events.*", "event", false),
            ("*", "", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*.log.*", "app.log.2", true),
            ("*.log.*", "app.lo.2", false),
        ] {
            assert_eq!(glob_matches(pattern, text), expected, "{pattern} {text}");
        }
    }

    #[test]
    fn a_topic_outside_the_allowlist_is_unknown_like_a_missing_one() {
        let access = TopicAccess::new(vec!["events".into(), "logs.*".into()]);
        access.set_known([
            ("events".to_owned(), 3),
            ("secret".to_owned(), 1),
            ("logs.app".to_owned(), 1),
        ]);
        assert_eq!(access.check("events", Some(2)), Ok(()));
        assert_eq!(access.check("logs.app", None), Ok(()));
        let outside = access.check("secret", None).unwrap_err();
        let missing = access.check("logs.none", None).unwrap_err();
        assert_eq!(outside.status(), missing.status());
        assert_eq!(outside.rest_error_code(), 40401);
        assert_eq!(missing.rest_error_code(), 40401);
        assert_eq!(
            access
                .check("events", Some(3))
                .unwrap_err()
                .rest_error_code(),
            40402
        );
        assert_eq!(
            access.list(),
            vec!["events".to_owned(), "logs.app".to_owned()]
        );
    }

    #[test]
    fn a_transient_topic_error_keeps_the_entry_and_a_missing_topic_is_dropped() {
        let access = TopicAccess::new(vec!["*".into()]);
        access.set_known([("events".to_owned(), 3), ("logs".to_owned(), 1)]);

        let mut electing = TopicListing::default();
        electing.available.push(("logs".to_owned(), 1));
        electing
            .transient
            .extend(["events".to_owned(), "new".to_owned()]);
        access.refresh(electing);
        assert_eq!(
            access.check("events", Some(2)),
            Ok(()),
            "kept, with its partitions"
        );
        assert!(
            access.check("new", None).is_err(),
            "a transient topic never known stays unknown"
        );

        let mut deleted = TopicListing::default();
        deleted.available.push(("logs".to_owned(), 1));
        access.refresh(deleted);
        assert_eq!(
            access.check("events", None).unwrap_err().rest_error_code(),
            40401,
            "the cluster no longer has it"
        );
        assert_eq!(access.list(), vec!["logs".to_owned()]);
    }

    #[test]
    fn without_a_cluster_every_allowed_name_exists() {
        let access = TopicAccess::new(vec!["events".into(), "logs.*".into()]);
        assert_eq!(access.check("logs.x", Some(7)), Ok(()));
        assert!(access.check("other", None).is_err());
        assert_eq!(access.list(), vec!["events".to_owned()]);
    }
}
