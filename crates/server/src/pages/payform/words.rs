//! The hosted form's words in rus, kaz and eng ([`Lang::index`] order). A reason code
//! becomes a sentence for the payer in [`crate::pages::reasons::payer`].

use crate::pages::lang::Lang;

/// One text in the three languages.
pub type Tri = [&'static str; 3];

/// The form's labels and buttons.
pub struct Labels {
    pub title: &'static str,
    pub merchant: &'static str,
    pub amount: &'static str,
    pub fee: &'static str,
    pub total: &'static str,
    pub sender: &'static str,
    pub receiver: &'static str,
    pub fixed_receiver: &'static str,
    pub number: &'static str,
    pub expiry: &'static str,
    pub expiry_format: &'static str,
    pub cvc: &'static str,
    pub holder: &'static str,
    pub pay: &'static str,
    pub attempt: &'static str,
    pub continue_3ds: &'static str,
    pub secure_note: &'static str,
    pub back_to_shop: &'static str,
    pub paid: &'static str,
}

pub fn labels(lang: Lang) -> Labels {
    let i = lang.index();
    Labels {
        title: ["Оплата картой", "Картамен төлеу", "Card payment"][i],
        merchant: ["Получатель платежа", "Төлем алушы", "Merchant"][i],
        amount: ["Сумма", "Сома", "Amount"][i],
        fee: ["Комиссия", "Комиссия", "Fee"][i],
        total: [
            "Итого к списанию",
            "Барлығы есептен шығарылады",
            "Total charged",
        ][i],
        sender: ["Карта отправителя", "Жіберушінің картасы", "Sender's card"][i],
        receiver: ["Карта получателя", "Алушының картасы", "Receiver's card"][i],
        fixed_receiver: [
            "Карта получателя задана магазином",
            "Алушының картасын дүкен белгіледі",
            "The receiver's card is set by the merchant",
        ][i],
        number: ["Номер карты", "Карта нөмірі", "Card number"][i],
        // The format is the field's placeholder: in the label, "(ММ/ГГ)" wraps on a phone.
        expiry: ["Срок действия", "Жарамдылық мерзімі", "Expiry date"][i],
        expiry_format: ["ММ/ГГ", "АА/ЖЖ", "MM/YY"][i],
        cvc: ["CVC/CVV", "CVC/CVV", "CVC/CVV"][i],
        holder: ["Имя владельца", "Карта иесінің аты", "Cardholder name"][i],
        pay: ["Перевести", "Аудару", "Pay"][i],
        attempt: ["Попытка", "Әрекет", "Attempt"][i],
        continue_3ds: ["Продолжить", "Жалғастыру", "Continue"][i],
        secure_note: [
            "Данные карты передаются напрямую в платёжный шлюз.",
            "Карта деректері төлем шлюзіне тікелей жіберіледі.",
            "Card details go straight to the payment gateway.",
        ][i],
        back_to_shop: ["Вернуться в магазин", "Дүкенге оралу", "Back to the shop"][i],
        paid: [
            "Оплата прошла успешно",
            "Төлем сәтті өтті",
            "Payment successful",
        ][i],
    }
}

/// What is wrong with one field, as the server checks it (the script says the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    Number,
    Luhn,
    Expiry,
    Expired,
    Cvc,
    Holder,
}

impl FieldError {
    pub fn text(self, lang: Lang) -> &'static str {
        let t: Tri = match self {
            FieldError::Number => [
                "Введите номер карты: от 12 до 19 цифр.",
                "Карта нөмірін енгізіңіз: 12-ден 19-ға дейін сан.",
                "Enter the card number: 12 to 19 digits.",
            ],
            FieldError::Luhn => [
                "Номер карты введён с ошибкой: проверьте цифры.",
                "Карта нөмірі қате енгізілген: сандарды тексеріңіз.",
                "This card number has a typo: check the digits.",
            ],
            FieldError::Expiry => [
                "Введите срок действия как ММ/ГГ.",
                "Жарамдылық мерзімін АА/ЖЖ түрінде енгізіңіз.",
                "Enter the expiry date as MM/YY.",
            ],
            FieldError::Expired => [
                "Срок действия карты истёк.",
                "Картаның жарамдылық мерзімі өтті.",
                "This card has expired.",
            ],
            FieldError::Cvc => [
                "Введите CVC: 3 цифры (4 для American Express).",
                "CVC енгізіңіз: 3 сан (American Express үшін 4).",
                "Enter the CVC: 3 digits (4 for American Express).",
            ],
            FieldError::Holder => [
                "Введите имя владельца латиницей, как на карте.",
                "Карта иесінің атын картадағыдай латынша енгізіңіз.",
                "Enter the cardholder's name as on the card, in Latin letters.",
            ],
        };
        t[lang.index()]
    }
}

/// Why the page cannot open: shown on the error page, in the page's language.
pub fn cannot_open(why: Closed, lang: Lang) -> &'static str {
    let t: Tri = match why {
        Closed::BadLink => ["Ссылка на оплату повреждена или неполна. Вернитесь в магазин и начните оплату заново.", "Төлем сілтемесі бүлінген немесе толық емес. Дүкенге оралып, төлемді қайта бастаңыз.", "This payment link is damaged or incomplete. Go back to the shop and start the payment again."],
        Closed::Expired => ["Срок действия ссылки на оплату истёк. Вернитесь в магазин и начните оплату заново.", "Төлем сілтемесінің мерзімі өтті. Дүкенге оралып, төлемді қайта бастаңыз.", "This payment link has expired. Go back to the shop and start the payment again."],
        Closed::Used => ["Эта ссылка на оплату уже использована.", "Бұл төлем сілтемесі пайдаланылған.", "This payment link has already been used."],
        Closed::Mismatch => ["Параметры платежа не совпадают с выданным магазину доступом.", "Төлем параметрлері дүкенге берілген рұқсатқа сәйкес келмейді.", "The payment's details do not match what the shop was authorised for."],
        Closed::Paid => ["Этот заказ уже оплачен.", "Бұл тапсырыс төленген.", "This order has already been paid."],
        Closed::Attempts => ["Слишком много неудачных попыток (код 2740). Вернитесь в магазин и начните оплату заново.", "Сәтсіз әрекеттер тым көп (код 2740). Дүкенге оралып, төлемді қайта бастаңыз.", "Too many failed attempts (code 2740). Go back to the shop and start the payment again."],
    };
    t[lang.index()]
}

/// Why the page shows no form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    BadLink,
    Expired,
    Used,
    Mismatch,
    Paid,
    Attempts,
}
