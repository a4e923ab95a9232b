//! The engine every task stands on: annotations packed into dense tensors
//! ([`pack`]), the EM loop written once ([`em`]), the backends that run its
//! steps ([`backend`]: CPU always, GPU with the `gpu` feature), the choice
//! between them with fallback ([`select`]), memory checks ([`memory`]), and
//! EM over partitions of the items on a cluster ([`partial`]).
//! Nothing here knows a file format or a CLI flag.

pub mod backend;
pub mod em;
pub mod memory;
pub mod pack;
pub mod partial;
pub mod select;
