//! Typed identifiers. Ids are opaque strings made by the application (UUIDv7 for cases, so they
//! sort by creation); the domain only compares them.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A case (信访件): one petition and everything that happens to it.
    CaseId
);
id_type!(
    /// An organisational unit: a petition bureau (信访局/信访部门), a functional department, a
    /// lower government, a 纪委监委 or 政法 organ.
    UnitId
);
id_type!(
    /// A staff user, an API client, a petitioner session or the system itself.
    ActorId
);
