//! A complete, consistent China–Europe export consignment — Qingdao by sea to Lianyungang, then
//! by rail via Khorgos to Almaty — with every document the rules compare. Used by the demo and by
//! tests; every value is a constant, so the `expect`s below cannot fail at run time.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use crate::trade::documents::*;
use crate::trade::ident::*;

/// A USCC from its first 17 characters.
pub fn uscc(first17: &str) -> Uscc {
    let check = Uscc::check_character(first17).expect("uscc body");
    Uscc::new(&format!("{first17}{check}")).expect("uscc")
}

/// An LEI from its first 18 characters.
pub fn lei(first18: &str) -> Lei {
    let check = Lei::check_digits(first18).expect("lei body");
    Lei::new(&format!("{first18}{check:02}")).expect("lei")
}

pub fn sco(country_code: &str, serial: u32) -> ScoCode {
    ScoCode::issue(&country(country_code), serial).expect("sco code")
}

/// A container number from its owner code, category and serial.
pub fn container(first10: &str) -> ContainerNumber {
    let check = ContainerNumber::check_digit(first10).expect("container body");
    ContainerNumber::new(&format!("{first10}{check}")).expect("container number")
}

pub fn country(code: &str) -> CountryCode {
    CountryCode::new(code).expect("country code")
}

pub fn locode(code: &str) -> UnLocode {
    UnLocode::new(code).expect("un/locode")
}

pub fn hs(code: &str) -> HsCode {
    HsCode::new(code).expect("hs code")
}

pub fn unit(code: &str) -> UnitCode {
    UnitCode::new(code).expect("unit code")
}

pub fn currency(code: &str) -> CurrencyCode {
    CurrencyCode::new(code).expect("currency code")
}

pub fn usd(minor: i64) -> Amount {
    Amount {
        minor,
        currency: currency("USD"),
    }
}

/// `milli` thousandths of `unit`.
pub fn qty(milli: i64, unit_code: &str) -> Quantity {
    Quantity {
        value: Decimal3::from_thousandths(milli),
        unit: unit(unit_code),
    }
}

pub fn date(year: u32, month: u32, day: u32) -> Date {
    Date::new(year, month, day).expect("date")
}

pub fn seller() -> Party {
    Party {
        name: "Qingdao Haina Machinery Co., Ltd.".to_string(),
        sco_code: Some(sco("CN", 123)),
        uscc: Some(uscc("91370200MA3C8K2L1")),
        lei: None,
        country: Some(country("CN")),
    }
}

pub fn buyer() -> Party {
    Party {
        name: "Almaty Techsnab LLP".to_string(),
        sco_code: Some(sco("KZ", 456)),
        uscc: None,
        lei: Some(lei("984500AB12CD34EF56")),
        country: Some(country("KZ")),
    }
}

pub fn name_only(name: &str) -> Party {
    Party {
        name: name.to_string(),
        sco_code: None,
        uscc: None,
        lei: None,
        country: None,
    }
}

pub fn seals(container_body: &str, seals: &[&str]) -> ContainerSeal {
    ContainerSeal {
        container: container(container_body),
        seals: seals.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn containers() -> Vec<ContainerSeal> {
    vec![
        seals("CSQU305438", &["CN2025041701", "KZC-118834"]),
        seals("TGHU876543", &["CN2025041702"]),
    ]
}

/// All the documents of one consignment; any may be removed to make rules pending.
#[derive(Clone, Debug)]
pub struct Consignment {
    pub invoice: Option<CommercialInvoice>,
    pub declaration: Option<CustomsDeclaration>,
    pub transport: Vec<TransportDocument>,
    pub packing_list: Option<PackingList>,
    pub certificate_of_origin: Option<CertificateOfOrigin>,
    pub receipts: Vec<InterchangeReceipt>,
}

pub fn invoice() -> CommercialInvoice {
    CommercialInvoice {
        number: "HN-2025-0417".to_string(),
        issue_date: date(2025, 4, 17),
        seller: seller(),
        buyer: buyer(),
        contract_reference: "HN-KZ-2025-009".to_string(),
        incoterm: Incoterm::Cip,
        incoterm_place: "Almaty, KZ".to_string(),
        currency: currency("USD"),
        total: usd(17_920_400),
        freight: Some(usd(650_000)),
        insurance: Some(usd(21_505)),
        lines: vec![
            InvoiceLine {
                hs_code: hs("845710"),
                description: "CNC vertical machining centre VMC-850".to_string(),
                quantity: qty(2_000, "SET"),
                unit_price: Some(usd(8_500_000)),
                amount: usd(17_000_000),
                origin: country("CN"),
            },
            InvoiceLine {
                hs_code: hs("84669390"),
                description: "Tool holders and spare parts".to_string(),
                quantity: qty(1_150_500, "KGM"),
                unit_price: Some(usd(800)),
                amount: usd(920_400),
                origin: country("CN"),
            },
        ],
    }
}

pub fn declaration() -> CustomsDeclaration {
    CustomsDeclaration {
        number: "422020250000123456".to_string(),
        date: date(2025, 4, 20),
        kind: DeclarationKind::Export,
        consignor: seller(),
        consignee: buyer(),
        declarant: Some(Party {
            name: "Qingdao Jiaodong Customs Brokerage Co., Ltd.".to_string(),
            sco_code: None,
            uscc: Some(uscc("91370200MA3D0QXB2")),
            lei: None,
            country: Some(country("CN")),
        }),
        transport_mode: TransportMode::Multimodal,
        transport_means: Some("XIN YAN TAI".to_string()),
        voyage_or_train: Some("2516E".to_string()),
        transport_document_number: "cosu 6401234560".to_string(),
        contract_number: "HN-KZ-2025-009".to_string(),
        trading_country: country("KZ"),
        departure_country: country("CN"),
        destination_country: country("KZ"),
        port_of_loading: locode("CNTAO"),
        port_of_discharge: locode("KZALA"),
        exit_port: Some(locode("CNKHG")),
        package_count: 20,
        package_type: "PK".to_string(),
        weight_gross: qty(10_000_000, "KGM"),
        weight_net: qty(7_950_500, "KGM"),
        incoterm: Incoterm::Cip,
        freight: Some(usd(650_000)),
        insurance: Some(usd(21_505)),
        currency: currency("USD"),
        total: usd(17_920_400),
        containers: containers(),
        lines: vec![
            DeclarationLine {
                commodity_code: hs("8457101000"),
                description: "数控立式加工中心 CNC vertical machining centre".to_string(),
                quantity: qty(2_000, "SET"),
                unit_price: Some(usd(8_500_000)),
                total: usd(17_000_000),
                origin: country("CN"),
            },
            DeclarationLine {
                commodity_code: hs("8466939000"),
                description: "机床零件 tool holders and parts".to_string(),
                quantity: qty(1_150_500, "KGM"),
                unit_price: Some(usd(800)),
                total: usd(920_400),
                origin: country("CN"),
            },
        ],
    }
}

pub fn sea_bill_of_lading() -> TransportDocument {
    TransportDocument {
        kind: TransportDocumentKind::SeaBillOfLading,
        number: "COSU6401234560".to_string(),
        shipper: seller(),
        consignee: None,
        notify_party: Some(buyer()),
        carrier: Party {
            name: "COSCO Shipping Lines Co., Ltd.".to_string(),
            sco_code: None,
            uscc: None,
            lei: None,
            country: Some(country("CN")),
        },
        vessel_voyage_or_train: Some("XIN YAN TAI 2516E".to_string()),
        place_of_loading: locode("CNTAO"),
        place_of_discharge: locode("CNLYG"),
        border_stations: Vec::new(),
        shipped_on_board_or_acceptance_date: date(2025, 4, 24),
        package_count: 20,
        weight_gross: qty(10_000_000, "KGM"),
        goods: vec![
            GoodsItem {
                hs_code: Some(hs("845710")),
                description: "CNC machining centres".to_string(),
                packages: 2,
                weight_gross: qty(8_600_000, "KGM"),
            },
            GoodsItem {
                hs_code: Some(hs("846693")),
                description: "Machine tool parts".to_string(),
                packages: 18,
                weight_gross: qty(1_400_000, "KGM"),
            },
        ],
        containers: containers(),
    }
}

pub fn rail_consignment_note() -> TransportDocument {
    TransportDocument {
        kind: TransportDocumentKind::RailConsignmentNote,
        number: "SMGS 24-0417-0093".to_string(),
        shipper: seller(),
        // Rail notes often carry the consignee by name only: matched on normalised name.
        consignee: Some(name_only("ALMATY TECHSNAB  LLP")),
        notify_party: None,
        carrier: name_only("China Railway Container Transport Corp., Ltd."),
        vessel_voyage_or_train: Some("X8017".to_string()),
        place_of_loading: locode("CNLYG"),
        place_of_discharge: locode("KZALA"),
        border_stations: vec![locode("CNKHG"), locode("KZKHO")],
        shipped_on_board_or_acceptance_date: date(2025, 4, 27),
        package_count: 20,
        weight_gross: qty(10_000_000, "KGM"),
        // Rail notes give ETSNG/GNG codes rather than HS: no HS codes here.
        goods: vec![
            GoodsItem {
                hs_code: None,
                description: "Machine tools".to_string(),
                packages: 2,
                weight_gross: qty(8_600_000, "KGM"),
            },
            GoodsItem {
                hs_code: None,
                description: "Parts of machine tools".to_string(),
                packages: 18,
                weight_gross: qty(1_400_000, "KGM"),
            },
        ],
        containers: containers(),
    }
}

pub fn packing_list() -> PackingList {
    PackingList {
        number: "PL-HN-2025-0417".to_string(),
        package_count: 20,
        weight_gross: qty(10_000_000, "KGM"),
        weight_net: qty(7_950_500, "KGM"),
        containers: containers(),
    }
}

pub fn certificate_of_origin() -> CertificateOfOrigin {
    CertificateOfOrigin {
        number: "C253702A0417".to_string(),
        exporter: seller(),
        origin_country: country("CN"),
        hs_codes: vec![hs("845710"), hs("846693")],
    }
}

pub fn receipts() -> Vec<InterchangeReceipt> {
    let [first, second]: [ContainerSeal; 2] = containers().try_into().unwrap();
    vec![
        InterchangeReceipt {
            number: "EIR-TAO-250423-0001".to_string(),
            containers: vec![first],
        },
        InterchangeReceipt {
            number: "EIR-TAO-250423-0002".to_string(),
            containers: vec![second],
        },
    ]
}

pub fn qingdao_almaty() -> Consignment {
    Consignment {
        invoice: Some(invoice()),
        declaration: Some(declaration()),
        transport: vec![sea_bill_of_lading(), rail_consignment_note()],
        packing_list: Some(packing_list()),
        certificate_of_origin: Some(certificate_of_origin()),
        receipts: receipts(),
    }
}

impl Consignment {
    /// Every document as `DocumentFields`, in a fixed order.
    pub fn all_fields(&self) -> Vec<DocumentFields> {
        let mut all = Vec::new();
        all.extend(self.invoice.clone().map(DocumentFields::Invoice));
        all.extend(self.declaration.clone().map(DocumentFields::Declaration));
        all.extend(
            self.transport
                .iter()
                .cloned()
                .map(DocumentFields::Transport),
        );
        all.extend(self.packing_list.clone().map(DocumentFields::PackingList));
        all.extend(
            self.certificate_of_origin
                .clone()
                .map(DocumentFields::CertificateOfOrigin),
        );
        all.extend(
            self.receipts
                .iter()
                .cloned()
                .map(DocumentFields::InterchangeReceipt),
        );
        all
    }
}
