//! Every reason code (`aqsha_wire::codes::ALL`) in words a person reads, in rus, kaz and eng
//! ([`Lang::index`] order): one table, two columns. The merchant's words (the cabinet: the
//! dashboard's declines, the operations list, the operation page) say what happened; the
//! payer's words (the hosted form) say what the payer can do, and are shared by the codes a
//! payer acts on alike. The wire's English `message` stays the API's.
//!
//! 466 is ePay's "declined by issuer"; Aqsha's sandbox issuer also answers it for a wrong CVC
//! (docs/api.md, step 26), so both columns say "declined by the issuer" and name the CVC as
//! the likely cause, never as a certainty: a scenario card or a `466.01` amount is a plain
//! issuer decline with a right CVC.
//!
//! Over the house's ~500 lines on purpose: it is a data table (one row per code, six texts a
//! row), which reads best whole.

use crate::pages::lang::Lang;

/// One text in the three languages.
pub type Tri = [&'static str; 3];

/// One code's words: for the merchant, and for the payer.
pub struct Reason {
    pub code: u32,
    pub merchant: Tri,
    pub payer: Tri,
}

const P_FUNDS: Tri = [
    "Недостаточно средств на карте.",
    "Картада қаражат жеткіліксіз.",
    "Insufficient funds on the card.",
];
const P_BLOCKED: Tri = [
    "Карта заблокирована или ограничена. Используйте другую карту.",
    "Карта бұғатталған немесе шектелген. Басқа картаны пайдаланыңыз.",
    "The card is blocked or restricted. Use another card.",
];
const P_EXPIRY: Tri = [
    "Неверный срок действия карты или карта просрочена.",
    "Картаның мерзімі қате немесе өтіп кеткен.",
    "Wrong expiry date, or the card has expired.",
];
const P_CVC: Tri = [
    "Банк отклонил платёж. Проверьте CVC или используйте другую карту.",
    "Банк төлемді қабылдамады. CVC тексеріңіз немесе басқа картаны пайдаланыңыз.",
    "The bank declined the payment. Check the CVC, or use another card.",
];
const P_PIN: Tri = [
    "Карта временно заблокирована после неверных попыток.",
    "Қате әрекеттерден кейін карта уақытша бұғатталды.",
    "The card is blocked for a while after wrong attempts.",
];
const P_NUMBER: Tri = [
    "Проверьте номер карты или используйте другую карту.",
    "Карта нөмірін тексеріңіз немесе басқа картаны пайдаланыңыз.",
    "Check the card number, or use another card.",
];
const P_CANNOT: Tri = [
    "Этой картой нельзя оплатить этот перевод.",
    "Бұл картамен бұл аударымды төлеуге болмайды.",
    "This card cannot pay for this transfer.",
];
const P_LIMIT: Tri = [
    "Превышен лимит. Попробуйте другую карту или позже.",
    "Лимит асып кетті. Басқа картаны қолданыңыз немесе кейінірек.",
    "A limit is exceeded. Try another card or later.",
];
const P_ATTEMPTS: Tri = [
    "Слишком много неудачных попыток. Вернитесь в магазин и начните оплату заново.",
    "Сәтсіз әрекеттер тым көп. Дүкенге оралып, төлемді қайта бастаңыз.",
    "Too many failed attempts. Go back to the shop and start the payment again.",
];
const P_3DS: Tri = [
    "Подтверждение 3-D Secure не пройдено.",
    "3-D Secure растауынан өтпеді.",
    "The 3-D Secure check was not passed.",
];
const P_OTP: Tri = [
    "Неверный одноразовый код: попытки исчерпаны.",
    "Бір реттік код қате: әрекеттер таусылды.",
    "Wrong one-time code: no attempts left.",
];
const P_PENDING: Tri = [
    "Результат платежа уточняется. Не повторяйте оплату: магазин получит итог.",
    "Төлем нәтижесі нақтылануда. Төлемді қайталамаңыз: дүкен нәтижесін алады.",
    "The payment's outcome is being confirmed. Do not pay again: the shop will be told.",
];
const P_DECLINED: Tri = [
    "Платёж отклонён.",
    "Төлем қабылданбады.",
    "The payment was declined.",
];
const P_DONE: Tri = [
    "Платёж проведён.",
    "Төлем өтті.",
    "The payment went through.",
];

const M_PENDING: Tri = [
    "Технический сбой: итог уточняется, запросите статус",
    "Техникалық ақау: нәтиже нақтылануда, мәртебесін сұраңыз",
    "Technical error: outcome pending, query the status",
];
const M_NOT_RESPONDING: Tri = [
    "Сервер не отвечает: итог уточняется",
    "Сервер жауап бермейді: нәтиже нақтылануда",
    "Server not responding: outcome pending",
];
const M_ISSUER: Tri = [
    "Отклонено банком-эмитентом",
    "Эмитент банк қабылдамады",
    "Declined by the issuer",
];
const M_EXPIRED: Tri = ["Карта просрочена", "Картаның мерзімі өткен", "Expired card"];
const M_RESTRICTED: Tri = ["Карта ограничена", "Карта шектелген", "Restricted card"];
const M_ISSUER_DOWN: Tri = [
    "Банк-эмитент недоступен",
    "Эмитент банк қолжетімсіз",
    "Issuer unavailable",
];

macro_rules! r {
    ($code:literal, $merchant:expr, $payer:expr) => {
        Reason {
            code: $code,
            merchant: $merchant,
            payer: $payer,
        }
    };
}

/// The table: one row per code of `aqsha_wire::codes::ALL` (a test checks it).
pub const REASONS: &[Reason] = &[
    r!(0, ["Успешно", "Сәтті", "Success"], P_DONE),
    r!(
        100,
        [
            "Системная ошибка: итог уточняется",
            "Жүйелік қате: нәтиже нақтылануда",
            "System error: outcome pending"
        ],
        P_PENDING
    ),
    r!(
        454,
        [
            "Сбой: сумма могла быть заблокирована, итог уточняется",
            "Ақау: сома бұғатталуы мүмкін, нәтиже нақтылануда",
            "Failed, the amount may be held: outcome pending"
        ],
        P_PENDING
    ),
    r!(
        455,
        [
            "3-D Secure недоступен или неверный номер карты",
            "3-D Secure қолжетімсіз немесе карта нөмірі қате",
            "3-D Secure unavailable or wrong card number"
        ],
        P_NUMBER
    ),
    r!(
        456,
        [
            "Этой картой нельзя платить (валюта счёта карты)",
            "Бұл картамен төлеуге болмайды (шот валютасы)",
            "Cannot pay with this card (card account's currency)"
        ],
        P_CANNOT
    ),
    r!(
        457,
        [
            "Неверный срок действия карты",
            "Карта мерзімі қате",
            "Wrong card expiry date"
        ],
        P_EXPIRY
    ),
    r!(458, M_NOT_RESPONDING, P_DECLINED),
    r!(
        459,
        [
            "Проверьте номер карты",
            "Карта нөмірін тексеріңіз",
            "Check the card number"
        ],
        P_NUMBER
    ),
    r!(
        460,
        [
            "Ошибка, сумма могла быть заблокирована",
            "Қате, сома бұғатталуы мүмкін",
            "Error, the amount may be held"
        ],
        P_PENDING
    ),
    r!(
        461,
        ["Системная ошибка", "Жүйелік қате", "System error"],
        P_PENDING
    ),
    r!(462, M_ISSUER, P_DECLINED),
    r!(463, M_ISSUER, P_DECLINED),
    r!(
        464,
        [
            "Неверный продавец или терминал",
            "Сатушы немесе терминал қате",
            "Invalid merchant or terminal"
        ],
        P_DECLINED
    ),
    r!(
        465,
        [
            "Карта ограничена или заблокирована",
            "Карта шектелген немесе бұғатталған",
            "Card restricted or blocked"
        ],
        P_BLOCKED
    ),
    r!(
        466,
        [
            "Отклонено банком-эмитентом (в песочнице — неверный CVC)",
            "Эмитент банк қабылдамады (құмсалғышта — CVC қате)",
            "Declined by the issuer (in the sandbox: a wrong CVC)"
        ],
        P_CVC
    ),
    r!(
        467,
        ["Карта отключена", "Карта өшірілген", "Card disabled"],
        P_BLOCKED
    ),
    r!(
        468,
        [
            "Нужна дополнительная идентификация",
            "Қосымша сәйкестендіру қажет",
            "Additional identification needed"
        ],
        P_DECLINED
    ),
    r!(
        469,
        [
            "Недопустимая операция (токен, заказ или карты)",
            "Жарамсыз операция (токен, тапсырыс немесе карталар)",
            "Invalid transaction (token, invoice or cards)"
        ],
        P_DECLINED
    ),
    r!(
        470,
        ["Неверная сумма", "Сома қате", "Invalid amount"],
        P_DECLINED
    ),
    r!(
        471,
        ["Карта не найдена", "Карта табылмады", "No such card"],
        P_NUMBER
    ),
    r!(
        472,
        [
            "Неверный номер карты",
            "Карта нөмірі қате",
            "Invalid card number"
        ],
        P_NUMBER
    ),
    r!(
        473,
        [
            "3-D Secure не пройден",
            "3-D Secure өтпеді",
            "3-D Secure authentication failed"
        ],
        P_3DS
    ),
    r!(
        475,
        [
            "Неуспешно, повторите",
            "Сәтсіз, қайталаңыз",
            "Unsuccessful, retry"
        ],
        P_DECLINED
    ),
    r!(
        476,
        [
            "Не выполнено, повторите через 30 минут",
            "Орындалмады, 30 минуттан кейін қайталаңыз",
            "Not done, retry after 30 minutes"
        ],
        P_DECLINED
    ),
    r!(
        477,
        [
            "Ошибка формата запроса",
            "Сұрау пішімі қате",
            "Format error"
        ],
        P_DECLINED
    ),
    r!(478, M_EXPIRED, P_EXPIRY),
    r!(479, M_RESTRICTED, P_BLOCKED),
    r!(
        480,
        [
            "Нужно позвонить в банк-эмитент",
            "Эмитент банкке қоңырау шалу керек",
            "Call the issuer"
        ],
        P_DECLINED
    ),
    r!(
        481,
        ["Карта утеряна", "Карта жоғалған", "Lost card"],
        P_NUMBER
    ),
    r!(
        482,
        ["Недействительная карта", "Жарамсыз карта", "Invalid card"],
        P_NUMBER
    ),
    r!(
        483,
        ["Карта украдена", "Карта ұрланған", "Stolen card"],
        P_NUMBER
    ),
    r!(
        484,
        [
            "Недостаточно средств",
            "Қаражат жеткіліксіз",
            "Insufficient funds"
        ],
        P_FUNDS
    ),
    r!(485, M_EXPIRED, P_EXPIRY),
    r!(
        486,
        [
            "Не разрешено держателю карты",
            "Карта иесіне рұқсат етілмеген",
            "Not permitted to the cardholder"
        ],
        P_DECLINED
    ),
    r!(
        487,
        [
            "Не разрешено продавцу (сохранённая карта или токен)",
            "Сатушыға рұқсат етілмеген (сақталған карта немесе токен)",
            "Not permitted to the merchant (saved card or token)"
        ],
        P_DECLINED
    ),
    r!(
        488,
        [
            "Превышен лимит суммы перевода",
            "Аударым сомасының лимиті асты",
            "Amount limit exceeded"
        ],
        P_LIMIT
    ),
    r!(489, M_RESTRICTED, P_BLOCKED),
    r!(
        490,
        [
            "Операции по карте запрещены",
            "Карта бойынша операцияларға тыйым салынған",
            "Transactions prohibited on this card"
        ],
        P_BLOCKED
    ),
    r!(
        491,
        [
            "Превышен лимит числа переводов с карты",
            "Картадан аударымдар саны лимиті асты",
            "Frequency limit exceeded"
        ],
        P_LIMIT
    ),
    r!(
        492,
        [
            "Карта заблокирована после неверных попыток",
            "Қате әрекеттерден кейін карта бұғатталды",
            "Blocked after wrong tries"
        ],
        P_PIN
    ),
    r!(493, M_ISSUER_DOWN, P_DECLINED),
    r!(494, M_ISSUER_DOWN, P_DECLINED),
    r!(
        495,
        [
            "Операция запрещена",
            "Операцияға тыйым салынған",
            "Transaction prohibited"
        ],
        P_DECLINED
    ),
    r!(497, M_NOT_RESPONDING, P_DECLINED),
    r!(
        499,
        [
            "Неверный код 3-D Secure",
            "3-D Secure коды қате",
            "Wrong 3-D Secure code"
        ],
        P_OTP
    ),
    r!(502, M_NOT_RESPONDING, P_DECLINED),
    r!(
        505,
        [
            "Больше трёх попыток",
            "Үш әрекеттен көп",
            "More than 3 attempts"
        ],
        P_OTP
    ),
    r!(521, M_ISSUER, P_DECLINED),
    r!(523, M_ISSUER, P_DECLINED),
    r!(527, M_ISSUER, P_DECLINED),
    r!(
        528,
        [
            "Превышен дневной лимит зачислений на карту получателя",
            "Алушы картасына күндік түсім лимиті асты",
            "Receiver card's daily incoming limit exceeded"
        ],
        P_LIMIT
    ),
    r!(
        529,
        [
            "Превышен дневной лимит терминала",
            "Терминалдың күндік лимиті асты",
            "Terminal daily limit exceeded"
        ],
        P_LIMIT
    ),
    r!(
        1373,
        [
            "У клиента нет сохранённых карт",
            "Клиенттің сақталған карталары жоқ",
            "No saved cards for this customer"
        ],
        P_DECLINED
    ),
    r!(
        2357,
        [
            "ИИН и телефон не совпадают",
            "ЖСН мен телефон сәйкес емес",
            "IIN and phone do not match"
        ],
        P_DECLINED
    ),
    r!(
        2678,
        [
            "Превышен общий лимит терминала",
            "Терминалдың жалпы лимиті асты",
            "Terminal limit exceeded"
        ],
        P_LIMIT
    ),
    r!(
        1654,
        [
            "Одноразовый пароль не подтверждён",
            "Бір реттік құпиясөз расталмады",
            "One-time password check failed"
        ],
        P_3DS
    ),
    r!(
        2740,
        [
            "Слишком много неудачных попыток",
            "Сәтсіз әрекеттер тым көп",
            "Too many failed attempts"
        ],
        P_ATTEMPTS
    ),
    r!(
        3141,
        [
            "Превышен лимит возвратов по договору",
            "Шарт бойынша қайтару лимиті асты",
            "Refund limit on contract exceeded"
        ],
        P_DECLINED
    ),
    r!(293, M_PENDING, P_DECLINED),
    r!(1267, M_PENDING, P_DECLINED),
    r!(1268, M_PENDING, P_DECLINED),
    r!(1269, M_PENDING, P_DECLINED),
    r!(1563, M_PENDING, P_DECLINED),
    r!(1564, M_PENDING, P_DECLINED),
    r!(2358, M_PENDING, P_DECLINED),
    r!(2656, M_PENDING, P_DECLINED),
    r!(3014, M_PENDING, P_DECLINED),
    r!(3240, M_PENDING, P_DECLINED),
];

fn find(code: u32) -> Option<&'static Reason> {
    REASONS.iter().find(|r| r.code == code)
}

/// A code as the merchant reads it; a code outside the table (none is recorded today) reads
/// as the issuer's decline.
pub fn merchant(code: u32, lang: Lang) -> &'static str {
    find(code).map_or(M_ISSUER, |r| r.merchant)[lang.index()]
}

/// A decline's reason code as a sentence for the payer, with the code to quote.
pub fn payer(code: i64, lang: Lang) -> String {
    let words = u32::try_from(code)
        .ok()
        .and_then(find)
        .map_or(P_DECLINED, |r| r.payer);
    let code_word = ["код", "код", "code"][lang.index()];
    // A no-break space: "(code" and "465)" never end up on two lines.
    format!("{} ({code_word}\u{a0}{code})", words[lang.index()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_both_texts_in_three_languages_and_no_code_is_extra() {
        for c in aqsha_wire::codes::ALL {
            let r = find(c.code).unwrap_or_else(|| panic!("{} has no words", c.code));
            for text in r.merchant.iter().chain(r.payer.iter()) {
                assert!(!text.trim().is_empty(), "{}: an empty text", c.code);
            }
            // The Russian and Kazakh texts are translations, not the English left in place.
            assert_ne!(r.merchant[0], r.merchant[2], "{}", c.code);
            assert_ne!(r.merchant[1], r.merchant[2], "{}", c.code);
        }
        for (i, r) in REASONS.iter().enumerate() {
            assert!(
                aqsha_wire::codes::lookup(r.code).is_some(),
                "{} is no code",
                r.code
            );
            assert!(
                REASONS[i + 1..].iter().all(|o| o.code != r.code),
                "{} twice",
                r.code
            );
        }
    }

    #[test]
    fn cabinet_and_payform_agree_on_466() {
        assert!(merchant(466, Lang::Eng).starts_with("Declined by the issuer"));
        assert!(payer(466, Lang::Eng).starts_with("The bank declined the payment"));
        assert_eq!(merchant(484, Lang::Rus), "Недостаточно средств");
        assert_eq!(
            payer(9999, Lang::Kaz),
            "Төлем қабылданбады. (код\u{a0}9999)"
        );
    }
}
