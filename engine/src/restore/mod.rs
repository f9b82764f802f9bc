//! The restore direction: a dump tree replayed into a running service through its own
//! wire protocol, so a dump can be loaded into elastickv or into the service it stands in
//! for (Redis today; the other adapters replay with their vendors' CLIs, see the README).

pub mod redis;
