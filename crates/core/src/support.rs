//! What each backend declares it can do: [`Runtime::SUPPORT`](crate::Runtime::SUPPORT).

/// A part of the contract an engine may be unable to honour exactly.
///
/// Everything else in the contract every backend must do; these are the
/// documented gaps, each declared with its reason by the backends that have
/// it. The conformance suite runs a check that needs a feature on every
/// backend anyway: it is "not supported" while it fails, and fails the suite
/// once it passes on a backend that declares the gap, so declarations cannot
/// go stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Feature {
    /// [`Config::max_stack_bytes`](crate::Config::max_stack_bytes) bounds the
    /// guest stack at the configured size (not only at least that size).
    ExactStackLimit,
    /// [`Config::instance_pool`](crate::Config::instance_pool) preallocates
    /// instance slots.
    InstancePool,
    /// Compiled modules serialise and load back
    /// ([`Runtime::serialize_module`](crate::Runtime::serialize_module)).
    Artifacts,
    /// [`Store::call_async`](crate::Store::call_async) suspends the guest
    /// while an async host function's future is pending, freeing the thread
    /// (without it the call parks its thread until the future is done).
    AsyncSuspend,
}

impl Feature {
    /// Every feature, in a stable order.
    pub const ALL: &'static [Feature] = &[
        Feature::ExactStackLimit,
        Feature::InstancePool,
        Feature::Artifacts,
        Feature::AsyncSuspend,
    ];

    /// A short name (`exact-stack-limit`, `instance-pool`, `artifacts`, `async-suspend`).
    pub fn name(self) -> &'static str {
        match self {
            Feature::ExactStackLimit => "exact-stack-limit",
            Feature::InstancePool => "instance-pool",
            Feature::Artifacts => "artifacts",
            Feature::AsyncSuspend => "async-suspend",
        }
    }
}

impl core::fmt::Display for Feature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a backend declares it lacks, each [`Feature`] with the reason shown
/// in reports (`anywasm conformance`, the README's engine matrix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Support {
    lacks: &'static [(Feature, &'static str)],
}

impl Support {
    /// Every feature supported.
    pub const FULL: Support = Support { lacks: &[] };

    /// Every feature but those listed, each with why it is missing.
    pub const fn lacking(lacks: &'static [(Feature, &'static str)]) -> Self {
        Support { lacks }
    }

    /// Why the backend lacks `feature`, or `None` if it supports it.
    pub fn lacks(&self, feature: Feature) -> Option<&'static str> {
        self.lacks
            .iter()
            .find(|(f, _)| *f == feature)
            .map(|(_, why)| *why)
    }

    /// Whether the backend supports `feature`.
    pub fn supports(&self, feature: Feature) -> bool {
        self.lacks(feature).is_none()
    }

    /// The declared gaps, with their reasons.
    pub fn gaps(&self) -> &'static [(Feature, &'static str)] {
        self.lacks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn lacking_names_exactly_its_gaps() {
        const S: Support = Support::lacking(&[(Feature::InstancePool, "no pool")]);
        assert_eq!(S.lacks(Feature::InstancePool), Some("no pool"));
        assert!(S.supports(Feature::Artifacts));
        assert!(!S.supports(Feature::InstancePool));
        assert!(Feature::ALL.iter().all(|&f| Support::FULL.supports(f)));
        assert_eq!(Feature::ExactStackLimit.to_string(), "exact-stack-limit");
    }
}
