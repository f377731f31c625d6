//! `[min, max]` fields: exactly two elements. Serde reads a `[u32; 2]` as a tuple and stops
//! after two elements, so `[1, 2, 3]` would otherwise be cut silently to `[1, 2]`.

use serde::{Deserialize, Deserializer, de::Error};

pub fn exactly_two<'de, D: Deserializer<'de>>(d: D) -> Result<[u32; 2], D::Error> {
    let v = Vec::<u32>::deserialize(d)?;
    <[u32; 2]>::try_from(v.as_slice()).map_err(|_| {
        D::Error::custom(format!(
            "expected exactly two elements [min, max], found {} ({v:?})",
            v.len()
        ))
    })
}
