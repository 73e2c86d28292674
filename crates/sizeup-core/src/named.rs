//! Types written in JSON as the name their parser reads (`bf16`, `Q4_K_M`,
//! `llama.cpp`): serialized through `Display`, deserialized through `FromStr`,
//! so a value spelled in a report is a value a request may carry; their JSON
//! Schema (feature `schema`) is a string.

/// Implement `Serialize` (by `Display`) and `Deserialize` (by `FromStr`) for a type.
macro_rules! serde_by_name {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        /// A string: the name as the command line takes it.
        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({"type": "string"})
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                name.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use serde_by_name;

/// The value of `all` whose `name` is `norm` (the input `given`, normalised as
/// its type reads names), else [`crate::error::CoreError::Unknown`] naming `what`
/// and listing every name.
pub(crate) fn find_by_name<T: Copy>(
    all: &[T],
    name: fn(T) -> &'static str,
    what: &'static str,
    given: &str,
    norm: &str,
) -> crate::error::Result<T> {
    all.iter()
        .copied()
        .find(|&v| name(v) == norm)
        .ok_or_else(|| crate::error::CoreError::Unknown {
            what,
            name: given.to_string(),
            suggestions: all.iter().map(|&v| name(v).to_string()).collect(),
        })
}
