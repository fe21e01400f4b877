//! The evaluation context: anything that can look a string value up by key.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

/// A read-only map from context keys to string values.
///
/// Implemented for `HashMap` and `BTreeMap` with string keys and values, for slices, arrays
/// and vectors of `(key, value)` pairs (a linear scan: the fastest choice for the handful of
/// keys a typical context has, and it lives on the stack), for `()` (no context), and for
/// references to any of these. A missing key and an empty value behave the same, as in Flipt.
///
/// ```
/// use flipt_client::Context;
/// use std::collections::HashMap;
///
/// let pairs = [("plan", "pro"), ("country", "DE")];
/// assert_eq!(Context::get(&pairs, "plan"), Some("pro"));
///
/// let map: HashMap<String, String> = [("plan".to_string(), "pro".to_string())].into();
/// assert_eq!(Context::get(&map, "plan"), Some("pro"));
/// assert_eq!(Context::get(&(), "plan"), None);
/// ```
///
/// Implement it for your own type to evaluate straight from your data:
///
/// ```
/// use flipt_client::Context;
///
/// struct Player { level: String }
/// impl Context for Player {
///     fn get(&self, key: &str) -> Option<&str> {
///         (key == "level").then_some(self.level.as_str())
///     }
/// }
/// ```
pub trait Context {
    /// The value stored under `key`, if any.
    fn get(&self, key: &str) -> Option<&str>;
}

impl<T: Context + ?Sized> Context for &T {
    #[inline]
    fn get(&self, key: &str) -> Option<&str> {
        (**self).get(key)
    }
}

impl Context for () {
    #[inline]
    fn get(&self, _key: &str) -> Option<&str> {
        None
    }
}

impl<K, V, S> Context for HashMap<K, V, S>
where
    K: Borrow<str> + Hash + Eq,
    V: AsRef<str>,
    S: BuildHasher,
{
    #[inline]
    fn get(&self, key: &str) -> Option<&str> {
        HashMap::get(self, key).map(AsRef::as_ref)
    }
}

impl<K, V> Context for BTreeMap<K, V>
where
    K: Borrow<str> + Ord,
    V: AsRef<str>,
{
    #[inline]
    fn get(&self, key: &str) -> Option<&str> {
        BTreeMap::get(self, key).map(AsRef::as_ref)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Context for [(K, V)] {
    #[inline]
    fn get(&self, key: &str) -> Option<&str> {
        if key.len() > 16 {
            return find_long(self, key);
        }
        self.iter()
            .find(|(k, _)| crate::util::strings::str_eq(k.as_ref(), key))
            .map(|(_, v)| v.as_ref())
    }
}

/// The scan for keys over 16 bytes, kept out of line: its `memcmp` call would make the
/// common scan save and restore registers.
#[cold]
#[inline(never)]
fn find_long<'a, K: AsRef<str>, V: AsRef<str>>(pairs: &'a [(K, V)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.as_ref() == key)
        .map(|(_, v)| v.as_ref())
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> Context for [(K, V); N] {
    #[inline]
    fn get(&self, key: &str) -> Option<&str> {
        Context::get(self.as_slice(), key)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Context for Vec<(K, V)> {
    #[inline]
    fn get(&self, key: &str) -> Option<&str> {
        Context::get(self.as_slice(), key)
    }
}

impl<T: Context> Context for Option<T> {
    #[inline]
    fn get(&self, key: &str) -> Option<&str> {
        self.as_ref().and_then(|c| c.get(key))
    }
}
