//! Income statement and soldes intermédiaires de gestion (SIG) by month, from the
//! lines on PCG classes 6 (charges) and 7 (produits).
//!
//! Charges are counted debit minus credit, produits credit minus debit. Each account
//! goes to exactly one aggregate, by its longest matching prefix (PCG 2025 ranges):
//!
//! | aggregate | accounts |
//! |---|---|
//! | ventes de marchandises | 707, 7097 |
//! | coût d'achat des marchandises vendues | 607, 6037, 6087, 6097 |
//! | production vendue | 70 (except 707, 7097), 73 |
//! | production stockée | 71 |
//! | production immobilisée | 72 |
//! | consommations en provenance des tiers | 60 (except the above), 61, 62 |
//! | subventions d'exploitation | 74 |
//! | impôts, taxes | 63 |
//! | charges de personnel | 64 |
//! | reprises et transferts de charges d'exploitation | 781, 791 |
//! | autres produits d'exploitation | 75, and any other 78/79 or 7 account |
//! | dotations d'exploitation | 681, and any other 68 |
//! | autres charges d'exploitation | 65, and any other 6 account |
//! | produits financiers | 76, 786, 796 |
//! | charges financières | 66, 686 |
//! | produits exceptionnels | 77, 787, 797 |
//! | charges exceptionnelles | 67, 687 |
//! | participation et impôts sur les bénéfices | 69 |
//!
//! The balances: marge commerciale = ventes de marchandises − coût d'achat;
//! production de l'exercice = vendue + stockée + immobilisée; valeur ajoutée = marge +
//! production − consommations; EBE = VA + subventions − impôts et taxes − personnel;
//! résultat d'exploitation = EBE + reprises + autres produits − dotations − autres charges;
//! RCAI = résultat d'exploitation + produits financiers − charges financières;
//! résultat exceptionnel = produits − charges exceptionnels; résultat de l'exercice =
//! RCAI + résultat exceptionnel − participation et impôts. Since every class 6 and 7
//! account lands in one aggregate, the résultat equals class 7 minus class 6.
//!
//! Memory: one accumulator per (company, month).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use super::{AccountIndex, FastMap, Sum, month_start};
use crate::canonical::LedgerLine;
use crate::pcg;

/// The aggregates of the SIG (see the module docs for their accounts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Aggregate {
    /// 707, 7097.
    VentesMarchandises,
    /// 607, 6037, 6087, 6097.
    CoutAchatMarchandises,
    /// 70 (other), 73.
    ProductionVendue,
    /// 71.
    ProductionStockee,
    /// 72.
    ProductionImmobilisee,
    /// 60 (other), 61, 62.
    ConsommationsTiers,
    /// 74.
    SubventionsExploitation,
    /// 63.
    ImpotsTaxes,
    /// 64.
    ChargesPersonnel,
    /// 781, 791.
    ReprisesTransferts,
    /// 75 and other 7.
    AutresProduitsExploitation,
    /// 681 and other 68.
    DotationsExploitation,
    /// 65 and other 6.
    AutresChargesExploitation,
    /// 76, 786, 796.
    ProduitsFinanciers,
    /// 66, 686.
    ChargesFinancieres,
    /// 77, 787, 797.
    ProduitsExceptionnels,
    /// 67, 687.
    ChargesExceptionnelles,
    /// 69.
    ParticipationImpots,
}

const AGGREGATES: usize = 18;

impl Aggregate {
    /// The aggregate of a class 6 or 7 account; `None` for other classes.
    pub fn of_account(number: &str) -> Option<Aggregate> {
        use Aggregate::*;
        let d = pcg::leading_digits(number);
        let s = |p: &str| d.starts_with(p);
        match pcg::class(number)? {
            6 => Some(if s("607") || s("6037") || s("6087") || s("6097") {
                CoutAchatMarchandises
            } else if s("60") || s("61") || s("62") {
                ConsommationsTiers
            } else if s("63") {
                ImpotsTaxes
            } else if s("64") {
                ChargesPersonnel
            } else if s("66") || s("686") {
                ChargesFinancieres
            } else if s("67") || s("687") {
                ChargesExceptionnelles
            } else if s("68") {
                DotationsExploitation
            } else if s("69") {
                ParticipationImpots
            } else {
                AutresChargesExploitation
            }),
            7 => Some(if s("707") || s("7097") {
                VentesMarchandises
            } else if s("70") || s("73") {
                ProductionVendue
            } else if s("71") {
                ProductionStockee
            } else if s("72") {
                ProductionImmobilisee
            } else if s("74") {
                SubventionsExploitation
            } else if s("76") || s("786") || s("796") {
                ProduitsFinanciers
            } else if s("77") || s("787") || s("797") {
                ProduitsExceptionnels
            } else if s("781") || s("791") {
                ReprisesTransferts
            } else {
                AutresProduitsExploitation
            }),
            _ => None,
        }
    }

    /// Whether the aggregate is a charge (class 6).
    pub fn is_charge(self) -> bool {
        use Aggregate::*;
        matches!(
            self,
            CoutAchatMarchandises
                | ConsommationsTiers
                | ImpotsTaxes
                | ChargesPersonnel
                | DotationsExploitation
                | AutresChargesExploitation
                | ChargesFinancieres
                | ChargesExceptionnelles
                | ParticipationImpots
        )
    }
}

/// The SIG of one company and month (amounts positive when favourable for products and
/// the balances, positive charges for charges).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sig {
    /// Ventes de marchandises.
    pub ventes_marchandises: Decimal,
    /// Coût d'achat des marchandises vendues.
    pub cout_achat_marchandises: Decimal,
    /// Marge commerciale.
    pub marge_commerciale: Decimal,
    /// Production vendue.
    pub production_vendue: Decimal,
    /// Production stockée.
    pub production_stockee: Decimal,
    /// Production immobilisée.
    pub production_immobilisee: Decimal,
    /// Production de l'exercice.
    pub production_exercice: Decimal,
    /// Consommations en provenance des tiers.
    pub consommations_tiers: Decimal,
    /// Valeur ajoutée.
    pub valeur_ajoutee: Decimal,
    /// Subventions d'exploitation.
    pub subventions_exploitation: Decimal,
    /// Impôts, taxes et versements assimilés.
    pub impots_taxes: Decimal,
    /// Charges de personnel.
    pub charges_personnel: Decimal,
    /// Excédent brut d'exploitation.
    pub ebe: Decimal,
    /// Reprises et transferts de charges d'exploitation.
    pub reprises_transferts: Decimal,
    /// Autres produits d'exploitation.
    pub autres_produits_exploitation: Decimal,
    /// Dotations aux amortissements et provisions d'exploitation.
    pub dotations_exploitation: Decimal,
    /// Autres charges d'exploitation.
    pub autres_charges_exploitation: Decimal,
    /// Résultat d'exploitation.
    pub resultat_exploitation: Decimal,
    /// Produits financiers.
    pub produits_financiers: Decimal,
    /// Charges financières.
    pub charges_financieres: Decimal,
    /// Résultat courant avant impôts.
    pub resultat_courant_avant_impots: Decimal,
    /// Produits exceptionnels.
    pub produits_exceptionnels: Decimal,
    /// Charges exceptionnelles.
    pub charges_exceptionnelles: Decimal,
    /// Résultat exceptionnel.
    pub resultat_exceptionnel: Decimal,
    /// Participation des salariés et impôts sur les bénéfices.
    pub participation_impots: Decimal,
    /// Résultat de l'exercice.
    pub resultat_exercice: Decimal,
}

impl Sig {
    fn from_aggregates(a: &[Decimal; AGGREGATES]) -> Sig {
        use Aggregate::*;
        let g = |x: Aggregate| a[x as usize];
        let mut s = Sig {
            ventes_marchandises: g(VentesMarchandises),
            cout_achat_marchandises: g(CoutAchatMarchandises),
            production_vendue: g(ProductionVendue),
            production_stockee: g(ProductionStockee),
            production_immobilisee: g(ProductionImmobilisee),
            consommations_tiers: g(ConsommationsTiers),
            subventions_exploitation: g(SubventionsExploitation),
            impots_taxes: g(ImpotsTaxes),
            charges_personnel: g(ChargesPersonnel),
            reprises_transferts: g(ReprisesTransferts),
            autres_produits_exploitation: g(AutresProduitsExploitation),
            dotations_exploitation: g(DotationsExploitation),
            autres_charges_exploitation: g(AutresChargesExploitation),
            produits_financiers: g(ProduitsFinanciers),
            charges_financieres: g(ChargesFinancieres),
            produits_exceptionnels: g(ProduitsExceptionnels),
            charges_exceptionnelles: g(ChargesExceptionnelles),
            participation_impots: g(ParticipationImpots),
            ..Sig::default()
        };
        s.marge_commerciale = s.ventes_marchandises - s.cout_achat_marchandises;
        s.production_exercice =
            s.production_vendue + s.production_stockee + s.production_immobilisee;
        s.valeur_ajoutee = s.marge_commerciale + s.production_exercice - s.consommations_tiers;
        s.ebe =
            s.valeur_ajoutee + s.subventions_exploitation - s.impots_taxes - s.charges_personnel;
        s.resultat_exploitation = s.ebe + s.reprises_transferts + s.autres_produits_exploitation
            - s.dotations_exploitation
            - s.autres_charges_exploitation;
        s.resultat_courant_avant_impots =
            s.resultat_exploitation + s.produits_financiers - s.charges_financieres;
        s.resultat_exceptionnel = s.produits_exceptionnels - s.charges_exceptionnelles;
        s.resultat_exercice =
            s.resultat_courant_avant_impots + s.resultat_exceptionnel - s.participation_impots;
        s
    }

    /// The balances as (French name, amount) pairs, in the order of the SIG table.
    pub fn balances(&self) -> [(&'static str, Decimal); 8] {
        [
            ("Marge commerciale", self.marge_commerciale),
            ("Production de l'exercice", self.production_exercice),
            ("Valeur ajoutée", self.valeur_ajoutee),
            ("Excédent brut d'exploitation", self.ebe),
            ("Résultat d'exploitation", self.resultat_exploitation),
            (
                "Résultat courant avant impôts",
                self.resultat_courant_avant_impots,
            ),
            ("Résultat exceptionnel", self.resultat_exceptionnel),
            ("Résultat de l'exercice", self.resultat_exercice),
        ]
    }
}

/// The SIG of one company and month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigRow {
    /// The company.
    pub company_id: i64,
    /// First day of the month.
    pub month: NaiveDate,
    /// The figures.
    pub sig: Sig,
}

/// Accumulates lines into monthly SIG.
#[derive(Debug)]
pub struct SigBuilder {
    from: NaiveDate,
    to: NaiveDate,
    accounts: AccountIndex,
    aggregates: Vec<Option<Aggregate>>,
    groups: FastMap<(i64, i32), [Sum; AGGREGATES]>,
}

impl SigBuilder {
    /// Lines dated from `from` to `to` (inclusive) count.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        SigBuilder {
            from,
            to,
            accounts: AccountIndex::default(),
            aggregates: Vec::new(),
            groups: FastMap::default(),
        }
    }

    /// Adds a line (ignored outside classes 6 and 7 or outside the range).
    #[inline]
    pub fn add(&mut self, line: &LedgerLine) {
        if line.date < self.from || line.date > self.to {
            return;
        }
        let (i, new) = self.accounts.index(0, &line.account_number);
        if new {
            self.aggregates
                .push(Aggregate::of_account(&line.account_number));
        }
        let Some(agg) = self.aggregates[i] else {
            return;
        };
        let month = line.date.year() * 12 + line.date.month0() as i32;
        let sums = self
            .groups
            .entry((line.company_id, month))
            .or_insert([Sum::default(); AGGREGATES]);
        let sum = &mut sums[agg as usize];
        if agg.is_charge() {
            sum.add(line.debit);
            sum.sub(line.credit);
        } else {
            sum.add(line.credit);
            sum.sub(line.debit);
        }
    }

    /// Monthly SIG, sorted by company and month (months without class 6/7 lines are absent).
    pub fn finish(self) -> Vec<SigRow> {
        let sorted: BTreeMap<_, _> = self.groups.into_iter().collect();
        sorted
            .into_iter()
            .filter_map(|((company_id, month), sums)| {
                let month = NaiveDate::from_ymd_opt(
                    month.div_euclid(12),
                    month.rem_euclid(12) as u32 + 1,
                    1,
                )?;
                let a: [Decimal; AGGREGATES] = std::array::from_fn(|i| sums[i].value());
                Some(SigRow {
                    company_id,
                    month,
                    sig: Sig::from_aggregates(&a),
                })
            })
            .collect()
    }
}

/// Monthly SIG of the lines dated from `from` to `to`.
pub fn sig_by_month<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<SigRow> {
    let mut b = SigBuilder::new(from, to);
    for line in lines {
        b.add(line);
    }
    b.finish()
}

/// One line of the income statement: a two-digit PCG group of classes 6 or 7 in a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeStatementRow {
    /// The company.
    pub company_id: i64,
    /// First day of the month.
    pub month: NaiveDate,
    /// Two-digit group (`"60"`, `"70"`, ...).
    pub group: String,
    /// `true` for class 6 (charges), `false` for class 7 (produits).
    pub is_charge: bool,
    /// Charges debit minus credit, produits credit minus debit.
    pub amount: Decimal,
}

/// The income statement by month and two-digit group of the lines from `from` to `to`.
/// Memory: one accumulator per (company, month, group).
pub fn income_statement<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<IncomeStatementRow> {
    let mut groups: FastMap<(i64, NaiveDate, String), Decimal> = FastMap::default();
    for line in lines {
        if line.date < from || line.date > to {
            continue;
        }
        let class = pcg::class(&line.account_number);
        let amount = match class {
            Some(6) => line.debit - line.credit,
            Some(7) => line.credit - line.debit,
            _ => continue,
        };
        let group = pcg::group(pcg::leading_digits(&line.account_number), 2).to_owned();
        *groups
            .entry((line.company_id, month_start(line.date), group))
            .or_default() += amount;
    }
    let sorted: BTreeMap<_, _> = groups.into_iter().collect();
    sorted
        .into_iter()
        .map(|((company_id, month, group), amount)| IncomeStatementRow {
            company_id,
            month,
            is_charge: group.starts_with('6'),
            group,
            amount,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_land_in_their_aggregate() {
        use Aggregate::*;
        assert_eq!(Aggregate::of_account("707000"), Some(VentesMarchandises));
        assert_eq!(Aggregate::of_account("706000"), Some(ProductionVendue));
        assert_eq!(Aggregate::of_account("607100"), Some(CoutAchatMarchandises));
        assert_eq!(Aggregate::of_account("603700"), Some(CoutAchatMarchandises));
        assert_eq!(Aggregate::of_account("603100"), Some(ConsommationsTiers));
        assert_eq!(Aggregate::of_account("626000"), Some(ConsommationsTiers));
        assert_eq!(Aggregate::of_account("681120"), Some(DotationsExploitation));
        assert_eq!(Aggregate::of_account("686000"), Some(ChargesFinancieres));
        assert_eq!(Aggregate::of_account("786000"), Some(ProduitsFinanciers));
        assert_eq!(Aggregate::of_account("791000"), Some(ReprisesTransferts));
        assert_eq!(Aggregate::of_account("695000"), Some(ParticipationImpots));
        assert_eq!(Aggregate::of_account("411000"), None);
        assert_eq!(AGGREGATES, ParticipationImpots as usize + 1);
    }
}
