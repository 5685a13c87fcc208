use lodestone::engine::{self, SculptProfiles, build};
use lodestone::model::sample::*;
use lodestone::model::*;
use std::time::Instant;

fn main() {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(40);
    deal.parties.push(party("Bank", PartyKind::Bank, "0.08"));
    deal.tranches.push(loan(
        "Senior",
        TrancheKind::SeniorDebt,
        1,
        "100000",
        1,
        "0.08",
        10,
        Repayment::Annuity,
        &[("Bank", "1")],
    ));
    deal.tranches[1].dsra_months = Sourced::bare(6.into());
    let s = Scenario::base();
    let p = SculptProfiles::default();
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        let _ = build::build(&deal, &s, &p);
    }
    println!("build {:?}", t.elapsed() / n);
    let b = build::build(&deal, &s, &p).unwrap();
    println!(
        "rows {} scalars {}",
        b.calc.rows.len(),
        b.calc.scalars.len()
    );
    let t = Instant::now();
    for _ in 0..n {
        let _ = b.calc.evaluate();
    }
    println!("evaluate {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        let _ = engine::run(&deal, &s);
    }
    println!("run {:?}", t.elapsed() / n);
}
