//! The edges that know about workbooks: the input layout (`schema`), reading deals, and
//! writing templates and results. The only code that touches calamine or rust_xlsxwriter.

pub mod formula;
pub mod schema;
