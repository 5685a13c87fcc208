//! The edges that know about workbooks: the input layout (`schema`), cell values (`value`),
//! opening workbooks within bounds (`book`), reading deals (`read`), writing their input sheets (`inputs`) and templates (`template`).
//! The only code that touches calamine or rust_xlsxwriter.

pub(crate) mod access;
pub mod analytics;
pub mod book;
pub mod formula;
pub mod headers;
pub mod inputs;
pub mod keys;
pub mod limits;
pub mod read;
pub mod schema;
pub mod template;
pub mod value;
pub mod write;
