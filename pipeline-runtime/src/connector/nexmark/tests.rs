//! Known events, as printed by a Java program running Beam's generator code
//! (with the seeded channel URLs described on [`Generator`]).

use super::*;

/// `(event number, kind and CSV columns)`.
const KNOWN: &[(u64, &str)] = &[
    (
        0,
        r"person,1000,Peter Jones,nhd@xcat.com,7241 7320 9143 4888,Portland,WY,1436918400000,WN_HS_bnpkkiwhwana_L^`KZjdgsid`K]MLU[aaOH`ztxbulvlxtkn_ZZ^T\mqgdjzvlkymsmfrhkfVYSXK_OY[aVYVKa\X^]RO]OYguwiduWJNQLLaMLHOTaHY_J[YKWaUOSJN_VHWXZ]`SgbnjqeVVQ\[[",
    ),
    (
        1,
        r"auction,1000,wkx mgee,eszpqxtdxrvwmmywkmogoahf,28873,29448,1436918400000,1436918400011,1000,13,zcurskufssowmihzpmZHWQM^fnleramznyyqimoheaRSWV^OjtfjhgXRa`[PVHUOMTbrqqzjyztfwnhstxbu]\V_XPldnjuo^^PJQMnwhlsenoniir^aNZI__IP[QLYPROSNW]HYP\L]W^PTkfnbtwuqucwreikflftlgtebaurwml^RMRIPqevmpqsnxmcblfvpfeajfopsHS^U[Jzxwajo_W`RXa[XWI[`VXZOR^lghgmwHITMP[dbwdgtPQJYHLjnubcsjgszqvyzeoeqjcbaazmrqamxoxgrjh`L`]_Y^OQM]ItjxtuwZJS[RTmrkpofsnuysxuvwbuzrqkrkkqpiz",
    ),
    (
        4,
        r"bid,1000,1001,32530001,Google,https://www.nexmark.com/jol/liu/fmf/item.htm?query=1,1436918400000,sbolvyqwgticfdrwdyiyofziYMU\Z`UaTQO][NX\RM]WPYTOuwogvszlx",
    ),
    (
        11,
        r"bid,1000,1001,36651,Facebook,https://www.nexmark.com/_oh/ax_/bbj/item.htm?query=1,1436918400001,X_YRT[jrwniqrpctjzhhiyspV[VIN\ultnebazilqcWVTUZRONHaP[hdob",
    ),
    (
        7,
        r"bid,1000,1001,3126206,channel-6254,https://www.nexmark.com/vlg/suo/kiyd/item.htm?query=1&channel_id=1981284352,1436918400000,KUUY`RJaVNU`^QIWNHgdvnfxZQ]H_PbustqrpqasinNX`Q[_YKKNP\woaecePJPO[X",
    ),
    (
        10000000,
        r"person,201000,John Smith,lcchd@bkc.com,6558 1549 3216 3920,Los Angeles,AZ,1436919400000,PULaNMR_L]QT`Z\J[`fipwrsdbfrutMPJIO[R[R\SNHOQQMJldryefdtyagnerixqxaJYQOQqyxvnknxafcuhoqfmuSYL[L]akpazijuswskbvulqpzrclzqcqzkoz\Y[P_TS[YYP^XaR^_^ibzjghHTPJXTyyt",
    ),
    (
        10000001,
        r"auction,601000,wvu pwf o px,gvverfh  hssfsad vklcufk ejyjjyevyjcvy pzujfbdstoee iirataxwzyjhitlhzo,1420104,1422055,1436919400000,1436919400161,201000,12,yuuyzrKPLZ[YygzblePYVTQUpkopuqyivvnxSPMR`XxrszuewpposushaqpeLPYLKLRJ_MWItuhiqwSMUZNYHHMPXXybkmcvjxtrcprrujptsoeird]HOVa`PYTWUJaqoecfa`M]_KujnmsvuuorvtyfzjbzWOWWOZMY[`]^gezrncaOSYWajguihrdzkauirnznzwZYWZJIinivdmrzdgutQZINWMSSKR^_PVHZ`KifrnzvTHXXMMTN_PJM\STS\Tiiepcnnssgneqhlupb]W[aQZvmlcbmJV]WTPQXV]QXaSNP`RhiclbqzbegxwYT^XaJ`Q][UP`NKWZSqplijzOWWJa]HRLSMHwwzjhpprppspgarhzfptqnrjHM\\QZhjyilpYQTX",
    ),
    (
        10000002,
        r"auction,601001,u i,jvmustmb uqlw oamlmqjxlbskeu vuxajdrpfuj,1260,4290,1436919400000,1436919400020,201000,11,POa``Queebqp_HYT^J^N\WNNslxdoxouounjLZ`Y[HdwlrigcgmhvrZ_Ya`YSKLW[^JVHL\`H[K_W_grkthavwqbcaynhbjdP`O\]MQTIZXJMKU\SSsxdouaZYa]KWtfygtopjtfvxdryskbQTKZ_]WQLa\\TSOZLJgsfalc^JLUWTqctedlQIOKT`yrtypuT`OQUXbulecseczohc[TRX`QU[HM\UthesryxdtduoR]UROMohnbtdhhrikieyjiwiRNZVWLrrwsxemamoxjYIZTHKmzdheiWYMI]Na]`PUHhzueukZJRNQHkzvind[VVLXVnxxqotzlftwtP`QHUL[HS`ZSXYOQJIQZPQR]\KN_ZLrmmtuhRWM\SZhacnaxoslrr",
    ),
    (
        10000003,
        r"auction,601002,djyklyzgm,vdlkz ayctmsrnq,13116,81155,1436919400000,1436919400151,201000,14,mfiskiSYHS[abrzbeyeuxfcllatczeNMZZJWO[aVRITHSVRTXP`VVYzmhzjtN[OTZYN_PM`MhexzhoN\QQT]uhfjxaklvihoizlhqyykkszawfrzejIVRX\KiwqnymyqfnwdPPWZQPxgrjwclsvwezasaivzSZIIKTJMH[HXN[ULMNzmvvgtvumdqx[VULJXufdeneepmxcmLRTLJWQOXQ\_NUXR[ZZI`NTVT[ORL_mwdeowczarpokwscjxH\HO\PddgexylklctbpeocrifftulrshqezhH[S^[QWTKMYI`XVSQNKN_aV[gecsjbQP`Q`Sa^QQXXOIVI_RQZ^OIUuh",
    ),
    (
        123456789,
        r"bid,7408400,2470101,55171,channel-7554,https://www.nexmark.com/yxy/ckbg/vkw/item.htm?query=1&channel_id=1102577664,1436930745678,bnbbvx`IJaTUlijwuzqreryzpurngvxbqwvpwzlgufnwkaduqjacxqdnbbmplkdyoqkljrylJ`[",
    ),
];

fn csv_line(event: Event) -> String {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let kind = match &event {
        Event::Person(p) => {
            w.serialize(p).unwrap();
            "person"
        }
        Event::Auction(a) => {
            w.serialize(a).unwrap();
            "auction"
        }
        Event::Bid(b) => {
            w.serialize(b).unwrap();
            "bid"
        }
    };
    let line = String::from_utf8(w.into_inner().unwrap()).unwrap();
    format!("{kind},{}", line.trim_end())
}

#[test]
fn known_events_match_the_reference_generator() {
    let generator = Generator::default();
    for (n, want) in KNOWN {
        assert_eq!(csv_line(generator.event(*n)), *want, "event {n}");
    }
}

#[test]
fn csv_files_read_back_as_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let generator = Generator::default();
    let counts = write_csv(&generator, 500, dir.path()).unwrap();
    assert_eq!(
        counts,
        CsvCounts {
            persons: 10,
            auctions: 30,
            bids: 460
        }
    );
    let read = |name: &str| {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(dir.path().join(name))
            .unwrap()
    };
    let bids: Vec<Bid> = read("bid.csv").deserialize().map(Result::unwrap).collect();
    let auctions: Vec<Auction> = read("auction.csv")
        .deserialize()
        .map(Result::unwrap)
        .collect();
    let persons: Vec<Person> = read("person.csv")
        .deserialize()
        .map(Result::unwrap)
        .collect();
    let made: Vec<Event> = (0..500).map(|n| generator.event(n)).collect();
    let again: Vec<Event> = {
        let (mut b, mut a, mut p) = (bids.into_iter(), auctions.into_iter(), persons.into_iter());
        made.iter()
            .map(|e| match e {
                Event::Bid(_) => Event::Bid(b.next().unwrap()),
                Event::Auction(_) => Event::Auction(a.next().unwrap()),
                Event::Person(_) => Event::Person(p.next().unwrap()),
            })
            .collect()
    };
    assert_eq!(again, made);
}

#[test]
fn ids_are_dense_and_proportions_hold() {
    let generator = Generator::default();
    let (mut persons, mut auctions, mut bids) = (Vec::new(), Vec::new(), 0);
    for n in 0..5_000 {
        match generator.event(n) {
            Event::Person(p) => persons.push(p.id),
            Event::Auction(a) => auctions.push(a.id),
            Event::Bid(b) => {
                bids += 1;
                // Bids name persons and auctions made so far, or a few ahead.
                assert!(b.auction < 1000 + (n / 50 + 1) * 3 + 10, "event {n}: {b:?}");
                assert!(b.bidder < 1000 + n / 50 + 1 + 10, "event {n}: {b:?}");
                assert!((100..=100_000_000).contains(&b.price));
            }
        }
    }
    assert_eq!(persons, (1000..1100).collect::<Vec<_>>());
    assert_eq!(auctions, (1000..1300).collect::<Vec<_>>());
    assert_eq!(bids, 4_600);
}

#[test]
fn kinds_count_and_number_their_events() {
    use super::generate::Kind;
    let generator = Generator::default();
    for events in [0, 1, 3, 4, 5, 49, 50, 51, 54, 99, 100, 1234] {
        let (mut p, mut a, mut b) = (0, 0, 0);
        for n in 0..events {
            match generator.event(n) {
                Event::Person(x) => {
                    assert_eq!(Kind::Person.event_number(p), n);
                    assert_eq!(generator.person(p), x);
                    p += 1;
                }
                Event::Auction(x) => {
                    assert_eq!(Kind::Auction.event_number(a), n);
                    assert_eq!(generator.auction(a), x);
                    a += 1;
                }
                Event::Bid(x) => {
                    assert_eq!(Kind::Bid.event_number(b), n);
                    assert_eq!(generator.bid(b), x);
                    b += 1;
                }
            }
        }
        assert_eq!(
            (
                Kind::Person.count_in(events),
                Kind::Auction.count_in(events),
                Kind::Bid.count_in(events)
            ),
            (p, a, b),
            "{events} events"
        );
    }
}
