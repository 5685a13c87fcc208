//! Excel's financial functions (NPV, XNPV, IRR, XIRR, MIRR) in exact decimals.
