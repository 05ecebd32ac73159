//! Vocabulary of the generated French company: people, trades, places, products.

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Sarah",
    "Julie",
    "Emma",
    "Louise",
    "Alice",
    "Lucas",
    "Hugo",
    "Louis",
    "Gabriel",
    "Arthur",
    "Jules",
    "Thomas",
    "Nicolas",
    "Antoine",
    "Mathieu",
    "Élodie",
    "Céline",
    "François",
    "Hélène",
    "Jérôme",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet",
    "Fontaine", "Rousseau", "Blanc",
];

pub(crate) const TRADES: &[&str] = &[
    "Boulangerie",
    "Garage",
    "Atelier",
    "Cabinet",
    "Transports",
    "Menuiserie",
    "Pharmacie",
    "Librairie",
    "Agence",
    "Hôtel",
    "Restaurant",
    "Imprimerie",
    "Studio",
    "Laboratoire",
    "Plomberie",
    "Fromagerie",
];

pub(crate) const LEGAL_FORMS: &[&str] = &["SARL", "SAS", "SA", "EURL", "SASU"];

/// (city, postal code)
pub(crate) const CITIES: &[(&str, &str)] = &[
    ("Paris", "75011"),
    ("Lyon", "69003"),
    ("Marseille", "13008"),
    ("Toulouse", "31000"),
    ("Nantes", "44000"),
    ("Bordeaux", "33000"),
    ("Lille", "59000"),
    ("Rennes", "35000"),
    ("Strasbourg", "67000"),
    ("Montpellier", "34000"),
    ("Grenoble", "38000"),
    ("Dijon", "21000"),
];

pub(crate) const STREETS: &[&str] = &[
    "rue de la République",
    "avenue Jean Jaurès",
    "boulevard Voltaire",
    "rue Victor Hugo",
    "place de la Mairie",
    "rue du Général Leclerc",
    "allée des Tilleuls",
    "quai de la Loire",
];

/// Products and services sold: (label, unit, VAT rate index into `chart::VAT_RATES`,
/// is a service, typical price in cents).
pub(crate) const PRODUCTS: &[(&str, &str, usize, bool, u64)] = &[
    ("Conseil en gestion", "hour", 0, true, 9_500),
    ("Audit comptable", "day", 0, true, 85_000),
    ("Formation bureautique", "day", 0, true, 65_000),
    ("Maintenance informatique", "hour", 0, true, 7_000),
    ("Développement logiciel", "day", 0, true, 55_000),
    ("Abonnement logiciel", "month", 0, true, 4_900),
    ("Ordinateur portable", "piece", 0, false, 119_000),
    ("Écran 27 pouces", "piece", 0, false, 28_900),
    ("Papier A4 (carton)", "piece", 0, false, 3_490),
    ("Travaux de rénovation", "hour", 1, true, 4_800),
    ("Repas d'affaires", "piece", 1, false, 3_200),
    ("Transport de voyageurs", "piece", 1, true, 2_500),
    ("Livre professionnel", "piece", 2, false, 3_900),
    ("Panier de produits alimentaires", "piece", 2, false, 4_500),
    ("Frais de port", "piece", 0, true, 1_200),
    ("Installation sur site", "day", 0, true, 72_000),
];

/// What suppliers sell to the company: (trade, expense account number, VAT rate index).
pub(crate) const PURCHASES: &[(&str, &str, usize)] = &[
    ("Fournitures de bureau", "606400", 0),
    ("Électricité", "606100", 0),
    ("Loyer des bureaux", "613200", 0),
    ("Entretien des locaux", "615000", 0),
    ("Honoraires d'expert-comptable", "622600", 0),
    ("Publicité en ligne", "623000", 0),
    ("Billets de train", "625100", 1),
    ("Télécommunications", "626000", 0),
    ("Marchandises", "607000", 0),
    ("Denrées alimentaires", "601000", 2),
];

pub(crate) const CATEGORY_GROUPS: &[(&str, &[&str])] = &[
    (
        "Activités",
        &["Conseil", "Formation", "Maintenance", "Négoce"],
    ),
    ("Établissements", &["Paris", "Lyon", "Bordeaux"]),
];
