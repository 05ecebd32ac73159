//! The company's chart of accounts (Plan comptable général), journals and VAT rates.

use rust_decimal::Decimal;

/// A general (non-auxiliary) account of the chart: (number, label).
pub(crate) const GENERAL_ACCOUNTS: &[(&str, &str)] = &[
    ("101000", "Capital social"),
    ("106000", "Réserves"),
    ("120000", "Résultat de l'exercice (bénéfice)"),
    ("129000", "Résultat de l'exercice (perte)"),
    ("164000", "Emprunts auprès des établissements de crédit"),
    ("218300", "Matériel de bureau et matériel informatique"),
    (
        "281830",
        "Amortissements du matériel de bureau et informatique",
    ),
    ("401000", "Fournisseurs"),
    ("411000", "Clients"),
    ("421000", "Personnel - Rémunérations dues"),
    ("431000", "Sécurité sociale"),
    ("445510", "TVA à décaisser"),
    ("445661", "TVA déductible sur autres biens et services 20%"),
    ("445662", "TVA déductible sur autres biens et services 10%"),
    ("445663", "TVA déductible sur autres biens et services 5,5%"),
    ("445711", "TVA collectée 20%"),
    ("445712", "TVA collectée 10%"),
    ("445713", "TVA collectée 5,5%"),
    ("512001", "Banque - Compte courant"),
    ("512002", "Banque - Compte épargne"),
    ("530000", "Caisse"),
    ("601000", "Achats stockés - Matières premières"),
    ("606100", "Fournitures non stockables (eau, énergie)"),
    ("606400", "Fournitures administratives"),
    ("607000", "Achats de marchandises"),
    ("613200", "Locations immobilières"),
    ("615000", "Entretien et réparations"),
    ("622600", "Honoraires"),
    ("623000", "Publicité, publications, relations publiques"),
    ("625100", "Voyages et déplacements"),
    ("626000", "Frais postaux et de télécommunications"),
    ("627000", "Services bancaires et assimilés"),
    ("641000", "Rémunérations du personnel"),
    ("645000", "Charges de sécurité sociale et de prévoyance"),
    ("681100", "Dotations aux amortissements des immobilisations"),
    ("706000", "Prestations de services"),
    ("707000", "Ventes de marchandises"),
    ("708500", "Ports et frais accessoires facturés"),
    ("768000", "Autres produits financiers"),
];

/// Index of a general account by number. Panics on an unknown number: the numbers
/// used by the generator are constants of this file (an invariant, not input).
pub(crate) fn account(number: &str) -> usize {
    GENERAL_ACCOUNTS
        .iter()
        .position(|(n, _)| *n == number)
        .expect("the generator only uses account numbers of GENERAL_ACCOUNTS")
}

/// The journals: (code, label, type).
pub(crate) const JOURNALS: &[(&str, &str, &str)] = &[
    ("VE", "Ventes", "sale"),
    ("AC", "Achats", "purchase"),
    ("BQ", "Banque", "bank"),
    ("OD", "Opérations diverses", "miscellaneous"),
    ("AN", "À nouveaux", "new_year"),
];

/// Journal indexes.
pub(crate) const VE: usize = 0;
pub(crate) const AC: usize = 1;
pub(crate) const BQ: usize = 2;
pub(crate) const OD: usize = 3;
pub(crate) const AN: usize = 4;

/// A French VAT rate: its API code, its value, its collected and deductible accounts.
pub(crate) struct VatRate {
    pub code: &'static str,
    pub per_thousand: i64,
    pub collected: &'static str,
    pub deductible: &'static str,
}

impl VatRate {
    /// The rate as a decimal (0.2, 0.1, 0.055).
    pub(crate) fn rate(&self) -> Decimal {
        Decimal::new(self.per_thousand, 3)
    }
}

/// 20 %, 10 %, 5.5 %.
pub(crate) const VAT_RATES: &[VatRate] = &[
    VatRate {
        code: "FR_200",
        per_thousand: 200,
        collected: "445711",
        deductible: "445661",
    },
    VatRate {
        code: "FR_100",
        per_thousand: 100,
        collected: "445712",
        deductible: "445662",
    },
    VatRate {
        code: "FR_55",
        per_thousand: 55,
        collected: "445713",
        deductible: "445663",
    },
];

/// The VAT rate code a general account carries (`any` for most).
pub(crate) fn account_vat_code(number: &str) -> &'static str {
    match number {
        "706000" | "707000" | "708500" => "FR_200",
        n if n.starts_with("44") => "any",
        n if n.starts_with('6') => "FR_200",
        _ => "any",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_account_used_by_vat_rates_exists_and_numbers_are_unique() {
        for rate in VAT_RATES {
            account(rate.collected);
            account(rate.deductible);
        }
        let mut numbers: Vec<_> = GENERAL_ACCOUNTS.iter().map(|(n, _)| *n).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), GENERAL_ACCOUNTS.len());
        assert_eq!(VAT_RATES[2].rate(), Decimal::new(55, 3));
    }
}
