//! The key fields of each anchored trade document that cross-validation reads: not the whole
//! document, only what the rules in [`crate::trade::rules`] compare. Plain data with one CBOR
//! and one JSON form; field names follow the WCO Data Model and ICC's Key Trade Documents and
//! Data Elements. Each document checks its own internal consistency with `validate`; agreement
//! between documents is the rules' business.

use core::fmt;

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::trade::ident::{
    Amount, ContainerNumber, CountryCode, CurrencyCode, Decimal3, HsCode, Incoterm, Lei, ScoCode,
    UnLocode, UnitCode, UnitDimension, Uscc,
};

/// The most characters a text field (number, name, description, seal) may hold.
pub const MAX_TEXT_CHARS: usize = 512;
/// The most line items (invoice lines, declaration lines, goods items) a document may hold.
pub const MAX_LINES: usize = 999;
/// The most containers a document may list.
pub const MAX_CONTAINERS: usize = 999;
/// The most seals one container may carry.
pub const MAX_SEALS: usize = 16;
/// The most border stations a transport document may list.
pub const MAX_BORDER_STATIONS: usize = 32;
/// The most HS codes a certificate of origin may list.
pub const MAX_HS_CODES: usize = 999;

/// Why a document's key fields are not internally consistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A date that is not a real Gregorian date.
    #[error(
        "invalid date {found:?}: expected a real Gregorian date as YYYY-MM-DD (yyyymmdd), years 0001 to 9999"
    )]
    Date {
        /// What was given.
        found: String,
    },
    /// A required text or list is empty.
    #[error("{field} is empty: expected at least one character or item")]
    Empty {
        /// Path of the field, e.g. `lines[0].description`.
        field: String,
    },
    /// A text or list is longer than its bound.
    #[error("{field} has length {found}: expected at most {max}")]
    TooLong {
        /// Path of the field.
        field: String,
        /// The bound.
        max: usize,
        /// The length found.
        found: usize,
    },
    /// An amount in another currency than the document's.
    #[error("{field} is in {found}: expected the document currency {expected}")]
    Currency {
        /// Path of the field.
        field: String,
        /// The document currency.
        expected: String,
        /// The amount's currency.
        found: String,
    },
    /// A total that is not the sum of its parts.
    #[error("{field} is {found}: expected the sum of its items, {expected}")]
    Total {
        /// Path of the field.
        field: String,
        /// The sum of the items.
        expected: String,
        /// The stated total.
        found: String,
    },
    /// A negative amount, quantity or weight.
    #[error("{field} is negative ({found}): expected zero or more")]
    Negative {
        /// Path of the field.
        field: String,
        /// The value found.
        found: String,
    },
    /// A weight stated in a unit that is not a unit of mass.
    #[error("{field} is in {unit}: expected a unit of mass (UN/ECE Rec 20, e.g. KGM)")]
    NotMass {
        /// Path of the field.
        field: String,
        /// The unit found.
        unit: String,
    },
    /// The same container, seal or code listed twice.
    #[error("{field} lists {value} more than once: expected each at most once")]
    Duplicate {
        /// Path of the list.
        field: String,
        /// The repeated value.
        value: String,
    },
    /// A sum or unit conversion that leaves the 64-bit range.
    #[error("{field} overflows: expected values within 64-bit range after conversion")]
    Overflow {
        /// Path of the field.
        field: String,
    },
    /// A transport document without consignee that may not be made out to order.
    #[error(
        "{kind} has no consignee: expected a consignee, or a sea bill of lading made out to order with a notify party"
    )]
    NoConsignee {
        /// The transport document kind.
        kind: String,
    },
    /// An air waybill number that is not 11 digits with a valid check digit.
    #[error("invalid air waybill number {found:?}: {reason}")]
    AirWaybill {
        /// What was given.
        found: String,
        /// What is wrong.
        reason: String,
    },
}

/// Checks an IATA air waybill number: a 3-digit airline prefix and an 8-digit serial whose last
/// digit is the first seven digits modulo 7. Spaces and hyphens are ignored (`176-12345675`).
pub fn check_air_waybill(number: &str) -> Result<(), FieldError> {
    let digits: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let err = |reason: String| FieldError::AirWaybill {
        found: number.chars().take(64).collect(),
        reason,
    };
    if digits.len() != 11 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(format!(
            "expected 11 digits (3-digit prefix and 8-digit serial), found {:?}",
            digits
        )));
    }
    let serial7: u32 = digits[3..10]
        .parse()
        .map_err(|_| err("serial is not numeric".into()))?;
    let check = u32::from(digits.as_bytes()[10] - b'0');
    if serial7 % 7 != check {
        return Err(err(format!(
            "check digit is {check}, expected {}",
            serial7 % 7
        )));
    }
    Ok(())
}

/// A calendar date, stored as the number `yyyymmdd` and always a real Gregorian date (years
/// 1 to 9999). Ordering is chronological. CBOR: that number; JSON: `"YYYY-MM-DD"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode)]
#[cbor(transparent)]
pub struct Date(#[n(0)] u32);

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// The earliest date: 0001-01-01.
    pub const MIN: Date = Date(10_101);
    /// The latest date: 9999-12-31.
    pub const MAX: Date = Date(99_991_231);

    /// The date `year-month-day`, if it exists in the Gregorian calendar.
    pub fn new(year: u32, month: u32, day: u32) -> Result<Date, FieldError> {
        let ok = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day);
        if ok {
            Ok(Date(year * 10_000 + month * 100 + day))
        } else {
            Err(FieldError::Date {
                found: format!("{year:04}-{month:02}-{day:02}"),
            })
        }
    }

    /// The date written as the number `yyyymmdd`, if it is a real date.
    pub fn from_yyyymmdd(value: u32) -> Result<Date, FieldError> {
        Date::new(value / 10_000, value / 100 % 100, value % 100).map_err(|_| FieldError::Date {
            found: value.to_string(),
        })
    }

    /// The number `yyyymmdd`.
    pub fn yyyymmdd(self) -> u32 {
        self.0
    }

    /// The year, 1 to 9999.
    pub fn year(self) -> u32 {
        self.0 / 10_000
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u32 {
        self.0 / 100 % 100
    }

    /// The day of the month, from 1.
    pub fn day(self) -> u32 {
        self.0 % 100
    }

    /// Days since 1970-01-01 (negative before it), by exact Gregorian arithmetic.
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil: years counted from March so the leap day is last.
        let (month, day) = (i64::from(self.month()), i64::from(self.day()));
        let year = i64::from(self.year()) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month_from_march = (month + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` after 1970-01-01, if it falls in years 1 to 9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Date::new(
            u32::try_from(year).ok()?,
            u32::try_from(month).ok()?,
            u32::try_from(day).ok()?,
        )
        .ok()
    }

    /// Days from `a` to `b`: positive when `b` is later.
    pub fn days_between(a: Date, b: Date) -> i64 {
        b.days_since_epoch() - a.days_since_epoch()
    }

    /// The date `days` later (earlier when negative), if it falls in years 1 to 9999.
    pub fn add_days(self, days: i64) -> Option<Date> {
        Date::from_days_since_epoch(self.days_since_epoch().checked_add(days)?)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.year(),
            self.month(),
            self.day()
        )
    }
}

impl core::str::FromStr for Date {
    type Err = FieldError;

    /// Parses exactly `YYYY-MM-DD`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || FieldError::Date {
            found: text.chars().take(32).collect(),
        };
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shape_ok {
            return Err(invalid());
        }
        let number = |range: core::ops::Range<usize>| -> Result<u32, FieldError> {
            text.get(range)
                .and_then(|part| part.parse().ok())
                .ok_or_else(invalid)
        };
        Date::new(number(0..4)?, number(5..7)?, number(8..10)?).map_err(|_| invalid())
    }
}

impl<'b, C> Decode<'b, C> for Date {
    fn decode(d: &mut minicbor::Decoder<'b>, _: &mut C) -> Result<Self, minicbor::decode::Error> {
        let value = d.u32()?;
        Date::from_yyyymmdd(value).map_err(|e| minicbor::decode::Error::message(e.to_string()))
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Writes a count of thousandths as the shortest exact decimal, like [`Decimal3`]'s `Display`
/// (`10000`, `1150.5`, `-0.001`), for sums and conversions that may exceed 64 bits.
pub(crate) fn format_milli(value: i128) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let (whole, fraction) = (magnitude / 1000, magnitude % 1000);
    if fraction == 0 {
        format!("{sign}{whole}")
    } else {
        let digits = format!("{fraction:03}");
        format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// A trade party as a document names it: name, and whichever identifiers the document carries.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// Name as printed on the document.
    #[n(0)]
    pub name: String,
    /// The ledger's own enterprise identifier (上合码).
    #[n(1)]
    pub sco_code: Option<ScoCode>,
    /// Chinese Unified Social Credit Code.
    #[n(2)]
    pub uscc: Option<Uscc>,
    /// Legal Entity Identifier (ISO 17442).
    #[n(3)]
    pub lei: Option<Lei>,
    /// Country of the party's address (ISO 3166-1 alpha-2).
    #[n(4)]
    pub country: Option<CountryCode>,
}

impl Party {
    /// Checks that the party has a name.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_party("party", self)
    }
}

/// A quantity with its UN/ECE Rec 20 unit, in thousandths of the unit.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    /// Thousandths of `unit`.
    #[n(0)]
    pub value: Decimal3,
    /// The unit (UN/ECE Rec 20 common code, e.g. `KGM`, `LBR`, `SET`).
    #[n(1)]
    pub unit: UnitCode,
}

impl Quantity {
    /// The quantity in thousandths of its dimension's base unit (KGM, MTQ, or the counted unit
    /// itself); `None` if the conversion leaves the 64-bit range.
    pub fn to_base(&self) -> Option<i64> {
        self.unit.to_base(self.value.thousandths())
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.value, self.unit)
    }
}

/// A container and the seals on it, as one document lists them.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct ContainerSeal {
    /// ISO 6346 container number; its check digit is verified on decoding.
    #[n(0)]
    pub container: ContainerNumber,
    /// Seal numbers (carrier, shipper or customs seals). Sorted by `canonicalize`.
    #[n(1)]
    #[serde(default)]
    pub seals: Vec<String>,
}

/// A line of a commercial invoice.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLine {
    /// HS code as the invoice gives it (6 to 10 digits).
    #[n(0)]
    pub hs_code: HsCode,
    /// Goods description.
    #[n(1)]
    pub description: String,
    /// Invoiced quantity.
    #[n(2)]
    pub quantity: Quantity,
    /// Price per unit, when the invoice states one.
    #[n(3)]
    pub unit_price: Option<Amount>,
    /// Line amount, in the invoice currency.
    #[n(4)]
    pub amount: Amount,
    /// Country of origin of the goods on this line.
    #[n(5)]
    pub origin: CountryCode,
}

/// Key fields of a commercial invoice (ICC KTDDE "Commercial Invoice").
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct CommercialInvoice {
    /// Invoice number.
    #[n(0)]
    pub number: String,
    /// Invoice date.
    #[n(1)]
    pub issue_date: Date,
    /// Seller (exporter).
    #[n(2)]
    pub seller: Party,
    /// Buyer (importer).
    #[n(3)]
    pub buyer: Party,
    /// Contract or purchase-order reference.
    #[n(4)]
    pub contract_reference: String,
    /// Incoterms 2020 rule.
    #[n(5)]
    pub incoterm: Incoterm,
    /// The incoterm's named place.
    #[n(6)]
    pub incoterm_place: String,
    /// Invoice currency (ISO 4217); every amount of the invoice is in it.
    #[n(7)]
    pub currency: CurrencyCode,
    /// Invoice total: the sum of the line amounts.
    #[n(8)]
    pub total: Amount,
    /// Freight charge, when stated.
    #[n(9)]
    pub freight: Option<Amount>,
    /// Insurance charge, when stated.
    #[n(10)]
    pub insurance: Option<Amount>,
    /// Line items, in the invoice's own order.
    #[n(11)]
    pub lines: Vec<InvoiceLine>,
}

/// What a customs declaration declares.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Serialize, Deserialize,
)]
#[cbor(index_only)]
#[serde(rename_all = "snake_case")]
pub enum DeclarationKind {
    /// An export declaration (出口报关单).
    #[n(0)]
    Export,
    /// An import declaration (进口报关单).
    #[n(1)]
    Import,
    /// A transit declaration.
    #[n(2)]
    Transit,
}

/// Mode of transport at the border (UN/ECE Rec 19).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Serialize, Deserialize,
)]
#[cbor(index_only)]
#[serde(rename_all = "snake_case")]
pub enum TransportMode {
    /// 1: maritime transport.
    #[n(1)]
    Maritime,
    /// 2: rail transport.
    #[n(2)]
    Rail,
    /// 3: road transport.
    #[n(3)]
    Road,
    /// 4: air transport.
    #[n(4)]
    Air,
    /// 5: mail.
    #[n(5)]
    Mail,
    /// 6: multimodal transport.
    #[n(6)]
    Multimodal,
    /// 7: fixed transport installations (pipelines, power lines).
    #[n(7)]
    FixedInstallation,
    /// 8: inland water transport.
    #[n(8)]
    InlandWater,
}

/// A line (commodity item) of a customs declaration.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct DeclarationLine {
    /// Commodity code (10 digits in China: HS 6 + national subdivisions).
    #[n(0)]
    pub commodity_code: HsCode,
    /// Goods description.
    #[n(1)]
    pub description: String,
    /// Declared quantity.
    #[n(2)]
    pub quantity: Quantity,
    /// Price per unit, when declared.
    #[n(3)]
    pub unit_price: Option<Amount>,
    /// Line total, in the declaration currency.
    #[n(4)]
    pub total: Amount,
    /// Country of origin.
    #[n(5)]
    pub origin: CountryCode,
}

/// Key fields of a customs declaration (China 报关单, WCO Data Model).
///
/// `consignor` and `consignee` are the WCO roles: for an export the consignor is the domestic
/// party (境内发货人, with its USCC) and the consignee the overseas party (境外收货人); for an
/// import the other way round. [`CustomsDeclaration::domestic_party`] and
/// [`CustomsDeclaration::overseas_party`] give them by side of the border.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct CustomsDeclaration {
    /// Declaration number (报关单号).
    #[n(0)]
    pub number: String,
    /// Declaration date (申报日期).
    #[n(1)]
    pub date: Date,
    /// Export, import or transit.
    #[n(2)]
    pub kind: DeclarationKind,
    /// Consignor: the domestic consignor of an export, the overseas consignor of an import.
    #[n(3)]
    pub consignor: Party,
    /// Consignee: the overseas consignee of an export, the domestic consignee of an import.
    #[n(4)]
    pub consignee: Party,
    /// Declarant (申报单位), when it is not the domestic party itself.
    #[n(5)]
    pub declarant: Option<Party>,
    /// Mode of transport at the border.
    #[n(6)]
    pub transport_mode: TransportMode,
    /// Transport means: vessel name, train or vehicle.
    #[n(7)]
    pub transport_means: Option<String>,
    /// Voyage or train number.
    #[n(8)]
    pub voyage_or_train: Option<String>,
    /// Transport document number (提运单号).
    #[n(9)]
    pub transport_document_number: String,
    /// Contract number (合同协议号).
    #[n(10)]
    pub contract_number: String,
    /// Trading country (贸易国).
    #[n(11)]
    pub trading_country: CountryCode,
    /// Country of departure (启运国).
    #[n(12)]
    pub departure_country: CountryCode,
    /// Country of destination (运抵国).
    #[n(13)]
    pub destination_country: CountryCode,
    /// Port or place of loading.
    #[n(14)]
    pub port_of_loading: UnLocode,
    /// Port or place of discharge (final destination of the carriage).
    #[n(15)]
    pub port_of_discharge: UnLocode,
    /// Port of exit (离境口岸) or entry, when declared.
    #[n(16)]
    pub exit_port: Option<UnLocode>,
    /// Number of packages.
    #[n(17)]
    pub package_count: u32,
    /// Package type (UN/ECE Rec 21 code).
    #[n(18)]
    pub package_type: String,
    /// Gross weight.
    #[n(19)]
    pub weight_gross: Quantity,
    /// Net weight.
    #[n(20)]
    pub weight_net: Quantity,
    /// Incoterm (成交方式).
    #[n(21)]
    pub incoterm: Incoterm,
    /// Freight, in any currency (the declaration states its own currency for it).
    #[n(22)]
    pub freight: Option<Amount>,
    /// Insurance, in any currency.
    #[n(23)]
    pub insurance: Option<Amount>,
    /// Declaration currency; the total and the lines are in it.
    #[n(24)]
    pub currency: CurrencyCode,
    /// Declared total: the sum of the line totals.
    #[n(25)]
    pub total: Amount,
    /// Containers and their seals. Sorted by `canonicalize`.
    #[n(26)]
    #[serde(default)]
    pub containers: Vec<ContainerSeal>,
    /// Commodity lines, in the declaration's own order.
    #[n(27)]
    pub lines: Vec<DeclarationLine>,
}

impl CustomsDeclaration {
    /// The party on this side of the border (境内收发货人), for an export or an import.
    pub fn domestic_party(&self) -> Option<&Party> {
        match self.kind {
            DeclarationKind::Export => Some(&self.consignor),
            DeclarationKind::Import => Some(&self.consignee),
            DeclarationKind::Transit => None,
        }
    }

    /// The party across the border (境外收发货人), for an export or an import.
    pub fn overseas_party(&self) -> Option<&Party> {
        match self.kind {
            DeclarationKind::Export => Some(&self.consignee),
            DeclarationKind::Import => Some(&self.consignor),
            DeclarationKind::Transit => None,
        }
    }
}

/// Kind of transport document.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Serialize, Deserialize,
)]
#[cbor(index_only)]
#[serde(rename_all = "snake_case")]
pub enum TransportDocumentKind {
    /// Negotiable sea bill of lading (DCSA `BOL`).
    #[n(0)]
    SeaBillOfLading,
    /// Sea waybill (DCSA `SWB`).
    #[n(1)]
    SeaWaybill,
    /// Rail consignment note (CIM or SMGS).
    #[n(2)]
    RailConsignmentNote,
    /// Air waybill.
    #[n(3)]
    AirWaybill,
    /// Road consignment note (CMR).
    #[n(4)]
    RoadConsignmentNote,
}

impl TransportDocumentKind {
    /// Stable snake_case name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            TransportDocumentKind::SeaBillOfLading => "sea_bill_of_lading",
            TransportDocumentKind::SeaWaybill => "sea_waybill",
            TransportDocumentKind::RailConsignmentNote => "rail_consignment_note",
            TransportDocumentKind::AirWaybill => "air_waybill",
            TransportDocumentKind::RoadConsignmentNote => "road_consignment_note",
        }
    }
}

impl fmt::Display for TransportDocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A consignment item of a transport document.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct GoodsItem {
    /// HS code, when the document gives one (rail notes often give only an ETSNG/GNG code).
    #[n(0)]
    pub hs_code: Option<HsCode>,
    /// Goods description.
    #[n(1)]
    pub description: String,
    /// Number of packages of this item.
    #[n(2)]
    pub packages: u32,
    /// Gross weight of this item.
    #[n(3)]
    pub weight_gross: Quantity,
}

/// Key fields of a transport document of one leg: sea B/L or waybill (DCSA eBL 3.0), rail
/// consignment note (CIM/SMGS), air waybill or road consignment note.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct TransportDocument {
    /// Which kind of transport document.
    #[n(0)]
    pub kind: TransportDocumentKind,
    /// Transport document reference (B/L, waybill, consignment note or AWB number).
    #[n(1)]
    pub number: String,
    /// Shipper (consignor of the carriage).
    #[n(2)]
    pub shipper: Party,
    /// Consignee; `None` when a bill of lading is made out to order.
    #[n(3)]
    pub consignee: Option<Party>,
    /// Notify party.
    #[n(4)]
    pub notify_party: Option<Party>,
    /// Carrier (shipping line, rail operator, airline, haulier).
    #[n(5)]
    pub carrier: Party,
    /// Vessel and voyage, train number or flight.
    #[n(6)]
    pub vessel_voyage_or_train: Option<String>,
    /// Port, station or airport of loading / departure.
    #[n(7)]
    pub place_of_loading: UnLocode,
    /// Port, station or airport of discharge / destination.
    #[n(8)]
    pub place_of_discharge: UnLocode,
    /// Border stations crossed, in route order (rail).
    #[n(9)]
    #[serde(default)]
    pub border_stations: Vec<UnLocode>,
    /// Shipped-on-board date (sea), date of acceptance (rail, road) or of execution (air).
    #[n(10)]
    pub shipped_on_board_or_acceptance_date: Date,
    /// Total number of packages.
    #[n(11)]
    pub package_count: u32,
    /// Total gross weight.
    #[n(12)]
    pub weight_gross: Quantity,
    /// Consignment items.
    #[n(13)]
    #[serde(default)]
    pub goods: Vec<GoodsItem>,
    /// Equipment: containers and seals. Sorted by `canonicalize`.
    #[n(14)]
    #[serde(default)]
    pub containers: Vec<ContainerSeal>,
}

/// Key fields of a packing list.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct PackingList {
    /// Packing list number.
    #[n(0)]
    pub number: String,
    /// Total number of packages.
    #[n(1)]
    pub package_count: u32,
    /// Total gross weight.
    #[n(2)]
    pub weight_gross: Quantity,
    /// Total net weight.
    #[n(3)]
    pub weight_net: Quantity,
    /// Containers and seals, when the packing list gives them.
    #[n(4)]
    #[serde(default)]
    pub containers: Vec<ContainerSeal>,
}

/// Key fields of a certificate of origin.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct CertificateOfOrigin {
    /// Certificate number.
    #[n(0)]
    pub number: String,
    /// Exporter.
    #[n(1)]
    pub exporter: Party,
    /// Country of origin certified.
    #[n(2)]
    pub origin_country: CountryCode,
    /// HS codes of the goods certified. Sorted by `canonicalize`.
    #[n(3)]
    pub hs_codes: Vec<HsCode>,
}

/// Key fields of an equipment interchange receipt (设备交接单): the containers handed over and
/// their seals.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct InterchangeReceipt {
    /// Receipt number.
    #[n(0)]
    pub number: String,
    /// Containers and seals handed over. Sorted by `canonicalize`.
    #[n(1)]
    pub containers: Vec<ContainerSeal>,
}

/// The key fields of any anchored document. JSON: an object with `"type"` naming the kind.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DocumentFields {
    /// A commercial invoice.
    #[n(0)]
    Invoice(#[n(0)] CommercialInvoice),
    /// A customs declaration.
    #[n(1)]
    Declaration(#[n(0)] CustomsDeclaration),
    /// A transport document of one leg.
    #[n(2)]
    Transport(#[n(0)] TransportDocument),
    /// A packing list.
    #[n(3)]
    PackingList(#[n(0)] PackingList),
    /// A certificate of origin.
    #[n(4)]
    CertificateOfOrigin(#[n(0)] CertificateOfOrigin),
    /// An equipment interchange receipt.
    #[n(5)]
    InterchangeReceipt(#[n(0)] InterchangeReceipt),
}

impl DocumentFields {
    /// Stable snake_case name of the document kind, as in JSON's `"type"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            DocumentFields::Invoice(_) => "invoice",
            DocumentFields::Declaration(_) => "declaration",
            DocumentFields::Transport(_) => "transport",
            DocumentFields::PackingList(_) => "packing_list",
            DocumentFields::CertificateOfOrigin(_) => "certificate_of_origin",
            DocumentFields::InterchangeReceipt(_) => "interchange_receipt",
        }
    }

    /// The document's own number.
    pub fn number(&self) -> &str {
        match self {
            DocumentFields::Invoice(d) => &d.number,
            DocumentFields::Declaration(d) => &d.number,
            DocumentFields::Transport(d) => &d.number,
            DocumentFields::PackingList(d) => &d.number,
            DocumentFields::CertificateOfOrigin(d) => &d.number,
            DocumentFields::InterchangeReceipt(d) => &d.number,
        }
    }

    /// Checks the document's internal consistency.
    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            DocumentFields::Invoice(d) => d.validate(),
            DocumentFields::Declaration(d) => d.validate(),
            DocumentFields::Transport(d) => d.validate(),
            DocumentFields::PackingList(d) => d.validate(),
            DocumentFields::CertificateOfOrigin(d) => d.validate(),
            DocumentFields::InterchangeReceipt(d) => d.validate(),
        }
    }

    /// Sorts the lists whose order carries no meaning, so equal content encodes equally.
    pub fn canonicalize(&mut self) {
        match self {
            DocumentFields::Invoice(_) => {}
            DocumentFields::Declaration(d) => d.canonicalize(),
            DocumentFields::Transport(d) => d.canonicalize(),
            DocumentFields::PackingList(d) => d.canonicalize(),
            DocumentFields::CertificateOfOrigin(d) => d.canonicalize(),
            DocumentFields::InterchangeReceipt(d) => d.canonicalize(),
        }
    }
}

// ---- internal consistency -------------------------------------------------------------------

fn check_text(field: &str, text: &str) -> Result<(), FieldError> {
    if text.trim().is_empty() {
        return Err(FieldError::Empty {
            field: field.to_string(),
        });
    }
    let found = text.chars().count();
    if found > MAX_TEXT_CHARS {
        return Err(FieldError::TooLong {
            field: field.to_string(),
            max: MAX_TEXT_CHARS,
            found,
        });
    }
    Ok(())
}

fn check_optional_text(field: &str, text: Option<&String>) -> Result<(), FieldError> {
    text.map_or(Ok(()), |text| check_text(field, text))
}

fn check_len(field: &str, found: usize, min: usize, max: usize) -> Result<(), FieldError> {
    if found < min {
        return Err(FieldError::Empty {
            field: field.to_string(),
        });
    }
    if found > max {
        return Err(FieldError::TooLong {
            field: field.to_string(),
            max,
            found,
        });
    }
    Ok(())
}

fn check_party(field: &str, party: &Party) -> Result<(), FieldError> {
    check_text(&format!("{field}.name"), &party.name)
}

fn check_quantity(field: &str, quantity: &Quantity) -> Result<(), FieldError> {
    if quantity.value.thousandths() < 0 {
        return Err(FieldError::Negative {
            field: field.to_string(),
            found: quantity.to_string(),
        });
    }
    if quantity.to_base().is_none() {
        return Err(FieldError::Overflow {
            field: field.to_string(),
        });
    }
    Ok(())
}

fn check_weight(field: &str, weight: &Quantity) -> Result<(), FieldError> {
    if weight.unit.dimension() != UnitDimension::Mass {
        return Err(FieldError::NotMass {
            field: field.to_string(),
            unit: weight.unit.to_string(),
        });
    }
    check_quantity(field, weight)
}

/// Checks a non-negative amount, and its currency when `currency` is given.
fn check_amount(
    field: &str,
    amount: &Amount,
    currency: Option<&CurrencyCode>,
) -> Result<(), FieldError> {
    if let Some(expected) = currency
        && amount.currency != *expected
    {
        return Err(FieldError::Currency {
            field: field.to_string(),
            expected: expected.to_string(),
            found: amount.currency.to_string(),
        });
    }
    if amount.minor < 0 {
        return Err(FieldError::Negative {
            field: field.to_string(),
            found: amount.to_string(),
        });
    }
    Ok(())
}

fn check_sum<'a>(
    field: &str,
    total: &Amount,
    parts: impl Iterator<Item = &'a Amount>,
) -> Result<(), FieldError> {
    let mut sum: i64 = 0;
    for part in parts {
        sum = sum
            .checked_add(part.minor)
            .ok_or_else(|| FieldError::Overflow {
                field: field.to_string(),
            })?;
    }
    if sum != total.minor {
        return Err(FieldError::Total {
            field: field.to_string(),
            expected: Amount {
                minor: sum,
                currency: total.currency,
            }
            .to_string(),
            found: total.to_string(),
        });
    }
    Ok(())
}

fn check_containers(field: &str, containers: &[ContainerSeal]) -> Result<(), FieldError> {
    check_len(field, containers.len(), 0, MAX_CONTAINERS)?;
    let mut seen: Vec<&ContainerNumber> = containers.iter().map(|c| &c.container).collect();
    seen.sort();
    if let Some(pair) = seen.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(FieldError::Duplicate {
            field: field.to_string(),
            value: pair[0].to_string(),
        });
    }
    for (i, entry) in containers.iter().enumerate() {
        let seals_field = format!("{field}[{i}].seals");
        check_len(&seals_field, entry.seals.len(), 0, MAX_SEALS)?;
        for (j, seal) in entry.seals.iter().enumerate() {
            check_text(&format!("{seals_field}[{j}]"), seal)?;
        }
        let mut seals: Vec<&String> = entry.seals.iter().collect();
        seals.sort();
        if let Some(pair) = seals.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(FieldError::Duplicate {
                field: seals_field,
                value: pair[0].clone(),
            });
        }
    }
    Ok(())
}

fn canonicalize_containers(containers: &mut [ContainerSeal]) {
    for entry in containers.iter_mut() {
        entry.seals.sort();
    }
    containers.sort_by(|a, b| a.container.cmp(&b.container));
}

impl CommercialInvoice {
    /// Checks internal consistency: texts present and bounded, at least one line, every amount
    /// non-negative and in the invoice currency, and the total equal to the sum of the lines.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("number", &self.number)?;
        check_party("seller", &self.seller)?;
        check_party("buyer", &self.buyer)?;
        check_text("contract_reference", &self.contract_reference)?;
        check_text("incoterm_place", &self.incoterm_place)?;
        let currency = Some(&self.currency);
        check_amount("total", &self.total, currency)?;
        if let Some(freight) = &self.freight {
            check_amount("freight", freight, currency)?;
        }
        if let Some(insurance) = &self.insurance {
            check_amount("insurance", insurance, currency)?;
        }
        check_len("lines", self.lines.len(), 1, MAX_LINES)?;
        for (i, line) in self.lines.iter().enumerate() {
            check_text(&format!("lines[{i}].description"), &line.description)?;
            check_quantity(&format!("lines[{i}].quantity"), &line.quantity)?;
            if let Some(price) = &line.unit_price {
                check_amount(&format!("lines[{i}].unit_price"), price, currency)?;
            }
            check_amount(&format!("lines[{i}].amount"), &line.amount, currency)?;
        }
        check_sum("total", &self.total, self.lines.iter().map(|l| &l.amount))
    }
}

impl CustomsDeclaration {
    /// Checks internal consistency: texts present and bounded, weights in units of mass and
    /// non-negative, at least one line, the total and line amounts in the declaration currency
    /// and the total equal to the sum of the lines, containers and seals each listed once.
    /// Net weight against gross weight is a cross-validation rule, not checked here.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("number", &self.number)?;
        check_party("consignor", &self.consignor)?;
        check_party("consignee", &self.consignee)?;
        if let Some(declarant) = &self.declarant {
            check_party("declarant", declarant)?;
        }
        check_optional_text("transport_means", self.transport_means.as_ref())?;
        check_optional_text("voyage_or_train", self.voyage_or_train.as_ref())?;
        check_text("transport_document_number", &self.transport_document_number)?;
        check_text("contract_number", &self.contract_number)?;
        check_text("package_type", &self.package_type)?;
        check_weight("weight_gross", &self.weight_gross)?;
        check_weight("weight_net", &self.weight_net)?;
        // The 报关单 states freight and insurance each with its own currency mark.
        if let Some(freight) = &self.freight {
            check_amount("freight", freight, None)?;
        }
        if let Some(insurance) = &self.insurance {
            check_amount("insurance", insurance, None)?;
        }
        let currency = Some(&self.currency);
        check_amount("total", &self.total, currency)?;
        check_containers("containers", &self.containers)?;
        check_len("lines", self.lines.len(), 1, MAX_LINES)?;
        for (i, line) in self.lines.iter().enumerate() {
            check_text(&format!("lines[{i}].description"), &line.description)?;
            check_quantity(&format!("lines[{i}].quantity"), &line.quantity)?;
            if let Some(price) = &line.unit_price {
                check_amount(&format!("lines[{i}].unit_price"), price, currency)?;
            }
            check_amount(&format!("lines[{i}].total"), &line.total, currency)?;
        }
        check_sum("total", &self.total, self.lines.iter().map(|l| &l.total))
    }

    /// Sorts containers and seals.
    pub fn canonicalize(&mut self) {
        canonicalize_containers(&mut self.containers);
    }
}

impl TransportDocument {
    /// Checks internal consistency: texts present and bounded; a consignee unless a sea bill
    /// of lading is made out to order with a notify party; weights in units of mass; the goods
    /// items' packages summing to the total and their weights to the total gross weight (to
    /// within a gram per item when their units differ, for conversion rounding); containers and
    /// seals listed once.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("number", &self.number)?;
        if self.kind == TransportDocumentKind::AirWaybill {
            check_air_waybill(&self.number)?;
        }
        check_party("shipper", &self.shipper)?;
        match (&self.consignee, &self.notify_party) {
            (Some(consignee), _) => check_party("consignee", consignee)?,
            (None, Some(_)) if self.kind == TransportDocumentKind::SeaBillOfLading => {}
            (None, _) => {
                return Err(FieldError::NoConsignee {
                    kind: self.kind.name().to_string(),
                });
            }
        }
        if let Some(notify) = &self.notify_party {
            check_party("notify_party", notify)?;
        }
        check_party("carrier", &self.carrier)?;
        check_optional_text(
            "vessel_voyage_or_train",
            self.vessel_voyage_or_train.as_ref(),
        )?;
        check_len(
            "border_stations",
            self.border_stations.len(),
            0,
            MAX_BORDER_STATIONS,
        )?;
        check_weight("weight_gross", &self.weight_gross)?;
        check_len("goods", self.goods.len(), 0, MAX_LINES)?;
        for (i, item) in self.goods.iter().enumerate() {
            check_text(&format!("goods[{i}].description"), &item.description)?;
            check_weight(&format!("goods[{i}].weight_gross"), &item.weight_gross)?;
        }
        if !self.goods.is_empty() {
            let packages: u64 = self.goods.iter().map(|g| u64::from(g.packages)).sum();
            if packages != u64::from(self.package_count) {
                return Err(FieldError::Total {
                    field: "package_count".to_string(),
                    expected: packages.to_string(),
                    found: self.package_count.to_string(),
                });
            }
            let same_unit = self
                .goods
                .iter()
                .all(|g| g.weight_gross.unit == self.weight_gross.unit);
            let (sum, total, rounding) = if same_unit {
                let sum: i128 = self
                    .goods
                    .iter()
                    .map(|g| i128::from(g.weight_gross.value.thousandths()))
                    .sum();
                (sum, i128::from(self.weight_gross.value.thousandths()), 0)
            } else {
                // Converted item by item: allow a thousandth of a kilogram of rounding per item.
                let sum: i128 = self
                    .goods
                    .iter()
                    .map(|g| i128::from(g.weight_gross.to_base().unwrap_or(0)))
                    .sum();
                let total = i128::from(self.weight_gross.to_base().unwrap_or(0));
                (
                    sum,
                    total,
                    i128::try_from(self.goods.len()).unwrap_or(i128::MAX),
                )
            };
            if (sum - total).abs() > rounding {
                let unit = if same_unit {
                    self.weight_gross.unit.to_string()
                } else {
                    "KGM".to_string()
                };
                return Err(FieldError::Total {
                    field: "weight_gross".to_string(),
                    expected: format!("{} {unit}", format_milli(sum)),
                    found: self.weight_gross.to_string(),
                });
            }
        }
        check_containers("containers", &self.containers)
    }

    /// Sorts containers and seals. Goods items and border stations keep their order.
    pub fn canonicalize(&mut self) {
        canonicalize_containers(&mut self.containers);
    }
}

impl PackingList {
    /// Checks internal consistency: number present, weights in units of mass and
    /// non-negative, containers and seals listed once.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("number", &self.number)?;
        check_weight("weight_gross", &self.weight_gross)?;
        check_weight("weight_net", &self.weight_net)?;
        check_containers("containers", &self.containers)
    }

    /// Sorts containers and seals.
    pub fn canonicalize(&mut self) {
        canonicalize_containers(&mut self.containers);
    }
}

impl CertificateOfOrigin {
    /// Checks internal consistency: number and exporter present, at least one HS code, each
    /// listed once.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("number", &self.number)?;
        check_party("exporter", &self.exporter)?;
        check_len("hs_codes", self.hs_codes.len(), 1, MAX_HS_CODES)?;
        let mut codes: Vec<&HsCode> = self.hs_codes.iter().collect();
        codes.sort();
        if let Some(pair) = codes.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(FieldError::Duplicate {
                field: "hs_codes".to_string(),
                value: pair[0].to_string(),
            });
        }
        Ok(())
    }

    /// Sorts the HS codes.
    pub fn canonicalize(&mut self) {
        self.hs_codes.sort();
    }
}

impl InterchangeReceipt {
    /// Checks internal consistency: number present, at least one container, containers and
    /// seals listed once.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("number", &self.number)?;
        check_len("containers", self.containers.len(), 1, MAX_CONTAINERS)?;
        check_containers("containers", &self.containers)
    }

    /// Sorts containers and seals.
    pub fn canonicalize(&mut self) {
        canonicalize_containers(&mut self.containers);
    }
}

#[cfg(test)]
pub(crate) use crate::trade::sample as fixtures;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn air_waybill_check_digit() {
        // 1234567 mod 7 = 5: serial 12345675.
        for good in ["176-12345675", "17612345675", "020 1234567 5"] {
            assert!(check_air_waybill(good).is_ok(), "{good}");
        }
        for bad in ["176-12345674", "176-1234567", "17A12345675", ""] {
            assert!(
                matches!(check_air_waybill(bad), Err(FieldError::AirWaybill { .. })),
                "{bad}"
            );
        }
    }
    use proptest::prelude::*;

    #[test]
    fn dates_are_real_gregorian_dates() {
        let cases: &[(u32, u32, u32, bool)] = &[
            (2025, 4, 17, true),
            (2024, 2, 29, true),
            (2000, 2, 29, true),
            (1900, 2, 29, false),
            (2025, 2, 29, false),
            (2025, 4, 31, false),
            (2025, 13, 1, false),
            (2025, 0, 1, false),
            (2025, 1, 0, false),
            (0, 1, 1, false),
            (9999, 12, 31, true),
            (10_000, 1, 1, false),
        ];
        for &(y, m, d, ok) in cases {
            assert_eq!(Date::new(y, m, d).is_ok(), ok, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn date_text_and_cbor_forms() {
        let d = date(2025, 4, 7);
        assert_eq!(d.to_string(), "2025-04-07");
        assert_eq!(d.yyyymmdd(), 20_250_407);
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2025-04-07\"");
        assert_eq!(serde_json::from_str::<Date>("\"2025-04-07\"").unwrap(), d);
        for bad in [
            "\"2025-4-07\"",
            "\"2025-02-30\"",
            "\"20250407\"",
            "\"2025-04-07 \"",
            "\"+025-04-07\"",
            "20250407",
        ] {
            assert!(serde_json::from_str::<Date>(bad).is_err(), "{bad}");
        }
        let bytes = minicbor::to_vec(d).unwrap();
        assert_eq!(minicbor::decode::<Date>(&bytes).unwrap(), d);
        let bad = minicbor::to_vec(20_250_230u32).unwrap();
        assert!(minicbor::decode::<Date>(&bad).is_err());
    }

    #[test]
    fn days_between_known_spans() {
        let cases = [
            ((1970, 1, 1), (1970, 1, 1), 0),
            ((1970, 1, 1), (2000, 3, 1), 11_017),
            ((2024, 2, 28), (2024, 3, 1), 2),
            ((2025, 2, 28), (2025, 3, 1), 1),
            ((1900, 2, 28), (1900, 3, 1), 1),
            ((2000, 2, 28), (2000, 3, 1), 2),
            ((2025, 4, 20), (2025, 5, 20), 30),
            ((2025, 12, 31), (2025, 1, 1), -364),
            ((1, 1, 1), (9999, 12, 31), 3_652_058),
        ];
        for ((y1, m1, d1), (y2, m2, d2), expected) in cases {
            let (a, b) = (date(y1, m1, d1), date(y2, m2, d2));
            assert_eq!(Date::days_between(a, b), expected, "{a} -> {b}");
            assert_eq!(Date::days_between(b, a), -expected);
        }
        assert_eq!(date(1970, 1, 1).days_since_epoch(), 0);
        assert_eq!(date(2025, 4, 20).add_days(30), Some(date(2025, 5, 20)));
        assert_eq!(date(9999, 12, 31).add_days(1), None);
        assert_eq!(Date::MIN, date(1, 1, 1));
        assert_eq!(Date::MAX, date(9999, 12, 31));
        assert_eq!(Date::from_days_since_epoch(0), Some(date(1970, 1, 1)));
        assert_eq!(date(1, 1, 1).add_days(-1), None);
    }

    proptest! {
        #[test]
        fn days_round_trip(days in -719_162i64..2_932_896) {
            let d = Date::from_days_since_epoch(days).unwrap();
            prop_assert_eq!(d.days_since_epoch(), days);
            let next = d.add_days(1);
            if let Some(next) = next {
                prop_assert!(next > d);
                prop_assert_eq!(Date::days_between(d, next), 1);
            }
        }

        #[test]
        fn date_decoders_agree(value in any::<u32>()) {
            let from_number = Date::from_yyyymmdd(value);
            let text = format!("{:04}-{:02}-{:02}", value / 10_000, value / 100 % 100, value % 100);
            let from_text: Result<Date, _> = text.parse();
            if value / 10_000 <= 9999 {
                prop_assert_eq!(from_number.clone().ok(), from_text.ok());
            }
            let bytes = minicbor::to_vec(value).unwrap();
            prop_assert_eq!(minicbor::decode::<Date>(&bytes).ok(), from_number.ok());
        }
    }

    #[test]
    fn fixture_documents_validate() {
        for doc in qingdao_almaty().all_fields() {
            assert_eq!(
                doc.validate(),
                Ok(()),
                "{} {}",
                doc.kind_name(),
                doc.number()
            );
        }
    }

    #[test]
    fn documents_round_trip_through_cbor_and_json() {
        for doc in qingdao_almaty().all_fields() {
            let bytes = minicbor::to_vec(&doc).unwrap();
            assert_eq!(minicbor::decode::<DocumentFields>(&bytes).unwrap(), doc);
            let json = serde_json::to_string(&doc).unwrap();
            assert_eq!(serde_json::from_str::<DocumentFields>(&json).unwrap(), doc);
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(value["type"], doc.kind_name());
        }
    }

    #[test]
    fn bad_container_check_digit_is_refused_when_decoding() {
        let good = serde_json::json!({
            "type": "interchange_receipt",
            "number": "EIR-1",
            "containers": [{ "container": "CSQU3054383", "seals": ["S1"] }],
        });
        assert!(serde_json::from_value::<DocumentFields>(good.clone()).is_ok());
        let mut bad = good;
        bad["containers"][0]["container"] = "CSQU3054384".into();
        assert!(serde_json::from_value::<DocumentFields>(bad).is_err());
    }

    #[test]
    fn unknown_json_fields_are_refused() {
        let mut value = serde_json::to_value(DocumentFields::PackingList(packing_list())).unwrap();
        value["weight_tare"] = "1".into();
        assert!(serde_json::from_value::<DocumentFields>(value).is_err());
    }

    type Mutation = fn(&mut Consignment);

    /// One table for all documents: a mutation of the valid consignment and the error (as a
    /// variant name) its document's `validate` must return.
    #[test]
    fn validate_table() {
        let cases: &[(&str, Mutation, &str)] = &[
            (
                "invoice total off by one cent",
                |c| {
                    c.invoice.as_mut().unwrap().total.minor += 1;
                },
                "Total",
            ),
            (
                "invoice line in another currency",
                |c| {
                    let inv = c.invoice.as_mut().unwrap();
                    inv.lines[1].amount.currency = currency("EUR");
                },
                "Currency",
            ),
            (
                "invoice freight in another currency",
                |c| {
                    c.invoice.as_mut().unwrap().freight = Some(Amount {
                        minor: 1,
                        currency: currency("CNY"),
                    });
                },
                "Currency",
            ),
            (
                "invoice without lines",
                |c| {
                    c.invoice.as_mut().unwrap().lines.clear();
                },
                "Empty",
            ),
            (
                "invoice seller without name",
                |c| {
                    c.invoice.as_mut().unwrap().seller.name = "   ".to_string();
                },
                "Empty",
            ),
            (
                "invoice number too long",
                |c| {
                    c.invoice.as_mut().unwrap().number = "9".repeat(MAX_TEXT_CHARS + 1);
                },
                "TooLong",
            ),
            (
                "negative line quantity",
                |c| {
                    c.invoice.as_mut().unwrap().lines[0].quantity.value =
                        Decimal3::from_thousandths(-1);
                },
                "Negative",
            ),
            (
                "declaration total off",
                |c| {
                    c.declaration.as_mut().unwrap().total.minor -= 100;
                },
                "Total",
            ),
            (
                "declaration gross weight in sets",
                |c| {
                    c.declaration.as_mut().unwrap().weight_gross = qty(1_000, "SET");
                },
                "NotMass",
            ),
            (
                "declaration container listed twice",
                |c| {
                    let d = c.declaration.as_mut().unwrap();
                    let first = d.containers[0].clone();
                    d.containers.push(first);
                },
                "Duplicate",
            ),
            (
                "declaration seal listed twice",
                |c| {
                    let d = c.declaration.as_mut().unwrap();
                    d.containers[1].seals.push("CN2025041702".to_string());
                },
                "Duplicate",
            ),
            (
                "sea waybill made out to order",
                |c| {
                    c.transport[0].kind = TransportDocumentKind::SeaWaybill;
                },
                "NoConsignee",
            ),
            (
                "to-order bill of lading without notify party",
                |c| {
                    c.transport[0].notify_party = None;
                },
                "NoConsignee",
            ),
            (
                "goods packages do not add up",
                |c| {
                    c.transport[1].goods[0].packages = 3;
                },
                "Total",
            ),
            (
                "goods weights do not add up",
                |c| {
                    c.transport[0].goods[0].weight_gross = qty(8_600_002, "KGM");
                },
                "Total",
            ),
            (
                "packing list net weight in litres",
                |c| {
                    c.packing_list.as_mut().unwrap().weight_net = qty(1, "LTR");
                },
                "NotMass",
            ),
            (
                "certificate without HS codes",
                |c| {
                    c.certificate_of_origin.as_mut().unwrap().hs_codes.clear();
                },
                "Empty",
            ),
            (
                "certificate HS code twice",
                |c| {
                    c.certificate_of_origin
                        .as_mut()
                        .unwrap()
                        .hs_codes
                        .push(hs("845710"));
                },
                "Duplicate",
            ),
            (
                "empty interchange receipt",
                |c| {
                    c.receipts[0].containers.clear();
                },
                "Empty",
            ),
        ];
        for (name, mutate, expected) in cases {
            let mut consignment = qingdao_almaty();
            mutate(&mut consignment);
            let errors: Vec<FieldError> = consignment
                .all_fields()
                .iter()
                .filter_map(|d| d.validate().err())
                .collect();
            assert_eq!(errors.len(), 1, "{name}: {errors:?}");
            let variant = format!("{:?}", errors[0]);
            assert!(variant.starts_with(expected), "{name}: {variant}");
            assert!(!errors[0].to_string().is_empty());
        }
    }

    #[test]
    fn goods_weights_in_pounds_add_up_within_rounding() {
        let mut bl = sea_bill_of_lading();
        bl.weight_gross = qty(22_046_226, "LBR");
        bl.goods[0].weight_gross = qty(18_959_754, "LBR");
        bl.goods[1].weight_gross = qty(3_086_472, "LBR");
        assert_eq!(bl.validate(), Ok(()));
    }

    #[test]
    fn canonicalize_sorts_sets_only() {
        let mut doc = DocumentFields::Declaration(declaration());
        let DocumentFields::Declaration(d) = &mut doc else {
            unreachable!()
        };
        d.containers.reverse();
        d.containers[1].seals.reverse();
        d.lines.reverse();
        let lines_before = d.lines.clone();
        doc.canonicalize();
        let DocumentFields::Declaration(d) = &doc else {
            unreachable!()
        };
        assert_eq!(d.containers, containers());
        assert_eq!(d.lines, lines_before);
    }

    #[test]
    fn amounts_and_quantities_format() {
        assert_eq!(qty(22_046_226, "LBR").to_string(), "22046.226 LBR");
        assert_eq!(qty(10_000_000, "KGM").to_string(), "10000 KGM");
        assert_eq!(format_milli(1_150_500), "1150.5");
        assert_eq!(format_milli(-1), "-0.001");
        assert_eq!(format_milli(0), "0");
        assert_eq!(
            format_milli(i128::from(i64::MIN) * 4),
            "-36893488147419103.232"
        );
    }
}
