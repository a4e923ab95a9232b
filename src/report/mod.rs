//! What a person reads: figures ([`plot`], SVG or PNG) and the
//! self-contained HTML page ([`html`]).

pub mod html;
pub mod plot;

pub use html::{escape, HtmlPage};
