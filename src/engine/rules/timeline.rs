//! Timeline: each facility's phases back to back from its start year, scenario delays
//! lengthening a phase and shifting the later ones; the project's financial close (first
//! construction year), commercial operations (when every facility has finished
//! construction) and the period flags everything else keys off.

use rust_decimal::Decimal;

use super::{BuildError, Builder};
use crate::engine::calc::{Expr, RowId, Stage, Unit, and, eq, ge, lt, max, min};
use crate::model::key::{DealField, FacilityField, InputKey, OverrideField};
use crate::model::{OverrideKind, Phase};

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub facilities: Vec<FacilityTimeline>,
    /// Financial close: the first year any facility builds.
    pub fc: Expr,
    /// Commercial operations: the first year after every facility's construction.
    pub cod: Expr,
    pub last_year: Expr,
    /// Years before operations: construction and everything before it.
    pub dev: RowId,
    pub ops: RowId,
    pub pre_fc: RowId,
    pub fc_flag: RowId,
    /// Debt is available: from financial close until operations.
    pub debt_available: RowId,
    pub last: RowId,
    /// The last development year (when the initial DSRA is funded).
    pub last_dev: RowId,
    /// 1 in the first operating year, 2 in the next…
    pub op_year: RowId,
}

#[derive(Debug, Clone, Default)]
pub struct FacilityTimeline {
    /// Start year of each scheduled phase (Phase::SCHEDULED order), then the year after
    /// closure.
    pub starts: Vec<Expr>,
    pub durations: Vec<Expr>,
    /// The scenario's extra years of each scheduled phase (0 when none).
    pub delays: Vec<Expr>,
    /// Flag rows per scheduled phase (None where the phase never has years).
    pub flags: Vec<Option<RowId>>,
    pub production: RowId,
    /// 1 from the first production year on (depreciation starts).
    pub producing_started: RowId,
}

impl FacilityTimeline {
    pub fn start(&self, phase: Phase) -> Expr {
        self.starts[phase_index(phase)].clone()
    }

    pub fn duration(&self, phase: Phase) -> Expr {
        match phase {
            Phase::Production => {
                self.durations[phase_index(Phase::RampUp)].clone()
                    + self.durations[phase_index(Phase::Operations)].clone()
            }
            p => self.durations[phase_index(p)].clone(),
        }
    }

    /// The flag row of a phase (production: ramp-up or operations).
    pub fn flag(&self, phase: Phase) -> Option<RowId> {
        match phase {
            Phase::Production => Some(self.production),
            p => self.flags[phase_index(p)],
        }
    }
}

pub fn phase_index(phase: Phase) -> usize {
    Phase::SCHEDULED
        .iter()
        .position(|p| *p == phase)
        .unwrap_or(0)
}

impl Builder<'_> {
    /// The first construction year of the base case (no delays), from the inputs.
    fn base_first_construction(&mut self, deal: &crate::model::Deal) -> Expr {
        let mut items = Vec::new();
        for (i, f) in deal.facilities.iter().enumerate() {
            let start = self.input(
                f.start_year.value.into(),
                InputKey::Facility(i, FacilityField::StartYear),
            );
            let expl = self.input(
                f.exploration_years.value.into(),
                InputKey::Facility(i, FacilityField::Exploration),
            );
            let feas = self.input(
                f.feasibility_years.value.into(),
                InputKey::Facility(i, FacilityField::Feasibility),
            );
            let perm = self.input(
                f.permitting_years.value.into(),
                InputKey::Facility(i, FacilityField::Permitting),
            );
            items.push(start + expl + feas + perm);
        }
        min(items)
    }

    /// The scenario's delays of one phase of facility `i`, added up: that phase takes this
    /// many years longer and every later phase moves with it. A ramp-up delay applies only
    /// to a facility with a ramp-up profile (its profile's steps come that many years later).
    fn phase_delay(&mut self, i: usize, phase: Phase) -> Expr {
        let f = &self.deal.facilities[i];
        if phase == Phase::RampUp && f.ramp.is_empty() {
            return Expr::zero();
        }
        let mut d = Expr::zero();
        for (record, o) in self.overrides(OverrideKind::Delay) {
            if o.phase.as_ref().is_some_and(|p| p.value == phase)
                && Self::targets(&o.facility, &f.name.value)
            {
                d = d + self.override_input(record, o.value.value, OverrideField::Value);
            }
        }
        d
    }

    /// The timeline: each facility's phases, then the project's milestones and period flags.
    pub(super) fn build_timeline(&mut self) -> Result<(), BuildError> {
        self.c.section("Timeline");
        for i in 0..self.deal.facilities.len() {
            let facility = self.facility_timeline(i);
            self.t.facilities.push(facility);
        }
        self.build_milestones();
        self.build_period_flags();
        Ok(())
    }

    /// Facility `i`'s phases back to back from its start year, each lengthened by the
    /// scenario's delays, and the flags of its phases and production.
    fn facility_timeline(&mut self, i: usize) -> FacilityTimeline {
        let name = self.deal.facilities[i].name.value.clone();
        let mut durations = Vec::new();
        let mut delays = Vec::new();
        for phase in Phase::SCHEDULED {
            let base = self.phase_years(i, phase);
            let delay = self.phase_delay(i, phase);
            delays.push(delay.clone());
            durations.push(base + delay);
        }
        let starts = self.phase_starts(i, &name, &durations);
        let mut flags = Vec::new();
        for (k, phase) in Phase::SCHEDULED.iter().enumerate() {
            if durations[k].is_zero() {
                flags.push(None);
                continue;
            }
            let flag = and(vec![
                ge(Expr::Year, starts[k].clone()),
                lt(Expr::Year, starts[k + 1].clone()),
            ]);
            flags.push(Some(self.c.row(
                format!("{name}: {}", phase.label()),
                Unit::Flag,
                flag,
            )));
        }
        let ramp = phase_index(Phase::RampUp);
        let closure = phase_index(Phase::Closure);
        let production = self.c.row(
            format!("{name}: producing"),
            Unit::Flag,
            and(vec![
                ge(Expr::Year, starts[ramp].clone()),
                lt(Expr::Year, starts[closure].clone()),
            ]),
        );
        let producing_started = self.c.row(
            format!("{name}: production started"),
            Unit::Flag,
            ge(Expr::Year, starts[ramp].clone()),
        );
        FacilityTimeline {
            starts,
            durations,
            delays,
            flags,
            production,
            producing_started,
        }
    }

    /// The years facility `i` plans for a phase before any delay (ramp-up: one per step of
    /// its ramp-up profile).
    fn phase_years(&mut self, i: usize, phase: Phase) -> Expr {
        let f = &self.deal.facilities[i];
        match phase {
            Phase::Exploration => self.input(
                f.exploration_years.value.into(),
                InputKey::Facility(i, FacilityField::Exploration),
            ),
            Phase::Feasibility => self.input(
                f.feasibility_years.value.into(),
                InputKey::Facility(i, FacilityField::Feasibility),
            ),
            Phase::Permitting => self.input(
                f.permitting_years.value.into(),
                InputKey::Facility(i, FacilityField::Permitting),
            ),
            Phase::Construction => self.input(
                f.construction_years.value.into(),
                InputKey::Facility(i, FacilityField::Construction),
            ),
            Phase::RampUp => Expr::num(f.ramp.len() as u32),
            Phase::Operations => self.input(
                f.operations_years.value.into(),
                InputKey::Facility(i, FacilityField::Operations),
            ),
            Phase::Closure => self.input(
                f.closure_years.value.into(),
                InputKey::Facility(i, FacilityField::Closure),
            ),
            Phase::Production => Expr::zero(),
        }
    }

    /// The start year of each scheduled phase of facility `i` (the first its start year,
    /// each later one the previous start plus its duration), then the year after closure.
    fn phase_starts(&mut self, i: usize, name: &str, durations: &[Expr]) -> Vec<Expr> {
        let f = &self.deal.facilities[i];
        let mut starts = Vec::new();
        let start = self.input(
            f.start_year.value.into(),
            InputKey::Facility(i, FacilityField::StartYear),
        );
        let mut s = self.c.scalar(
            format!("{name}: exploration starts"),
            Unit::Year,
            start,
            Stage::Pre,
        );
        starts.push(Expr::Scalar(s));
        for (k, phase) in Phase::SCHEDULED.iter().enumerate().skip(1) {
            let expr = Expr::Scalar(s) + durations[k - 1].clone();
            s = self.c.scalar(
                format!("{name}: {} starts", phase.label()),
                Unit::Year,
                expr,
                Stage::Pre,
            );
            starts.push(Expr::Scalar(s));
        }
        let end = self.c.scalar(
            format!("{name}: closure ends (first year after)"),
            Unit::Year,
            Expr::Scalar(s) + durations[6].clone(),
            Stage::Pre,
        );
        starts.push(Expr::Scalar(end));
        starts
    }

    /// Financial close (the first construction year, or the deal's year moved by delays
    /// before construction), commercial operations (when every facility has finished
    /// construction) and the last period.
    fn build_milestones(&mut self) {
        let deal = self.deal;
        let construction = phase_index(Phase::Construction);
        let ramp = phase_index(Phase::RampUp);
        let fc_items: Vec<Expr> = self
            .t
            .facilities
            .iter()
            .map(|f| f.starts[construction].clone())
            .collect();
        let cod_items: Vec<Expr> = self
            .t
            .facilities
            .iter()
            .map(|f| f.starts[ramp].clone())
            .collect();
        let first_construction = self.c.scalar(
            "First construction year",
            Unit::Year,
            min(fc_items),
            Stage::Pre,
        );
        let fc = match &deal.financial_close_year {
            None => self.c.scalar(
                "Financial close (first construction year)",
                Unit::Year,
                Expr::Scalar(first_construction),
                Stage::Pre,
            ),
            Some(year) => {
                // A given financial close moves with the scenario's delays before construction,
                // as construction itself does.
                let base = self.base_first_construction(deal);
                let input = self.deal_input(year.value.into(), DealField::FinancialCloseYear);
                self.c.scalar(
                    "Financial close (as given, moved by delays before construction)",
                    Unit::Year,
                    input + Expr::Scalar(first_construction) - base,
                    Stage::Pre,
                )
            }
        };
        let cod = self.c.scalar(
            "Commercial operations (first year after all construction)",
            Unit::Year,
            max(cod_items),
            Stage::Pre,
        );
        let horizon = self.deal_input(deal.horizon_years.value.into(), DealField::Horizon);
        let last = self.c.scalar(
            "Last period",
            Unit::Year,
            Expr::FirstYear + horizon - Expr::one(),
            Stage::Pre,
        );
        self.t.fc = Expr::Scalar(fc);
        self.t.cod = Expr::Scalar(cod);
        self.t.last_year = Expr::Scalar(last);
    }

    /// The project's period flags that everything else keys off: development, operations,
    /// before and at financial close, debt availability, the last development year, the
    /// last period, and the operating year count.
    fn build_period_flags(&mut self) {
        self.t.dev = self.c.row(
            "Development period",
            Unit::Flag,
            lt(Expr::Year, self.t.cod.clone()),
        );
        self.t.ops = self.c.row(
            "Operating period",
            Unit::Flag,
            ge(Expr::Year, self.t.cod.clone()),
        );
        self.lines.operating = Some(self.t.ops);
        self.t.pre_fc = self.c.row(
            "Before financial close",
            Unit::Flag,
            lt(Expr::Year, self.t.fc.clone()),
        );
        self.t.fc_flag = self.c.row(
            "Financial close (this year)",
            Unit::Flag,
            eq(Expr::Year, self.t.fc.clone()),
        );
        self.t.debt_available = self.c.row(
            "Debt available",
            Unit::Flag,
            and(vec![
                ge(Expr::Year, self.t.fc.clone()),
                lt(Expr::Year, self.t.cod.clone()),
            ]),
        );
        self.t.last_dev = self.c.row(
            "Last development year",
            Unit::Flag,
            eq(Expr::Year, self.t.cod.clone() - Expr::one()),
        );
        self.t.last = self.c.row(
            "Last period",
            Unit::Flag,
            eq(Expr::Year, self.t.last_year.clone()),
        );
        self.t.op_year = self.c.row(
            "Operating year",
            Unit::Count,
            Expr::Year - self.t.cod.clone() + Expr::Num(Decimal::ONE),
        );
    }
}
