//! The cabinet's words in rus, kaz and eng ([`Lang::index`] order).

use crate::pages::lang::Lang;

/// One text in the three languages.
pub type Tri = [&'static str; 3];

/// The navigation: path and name; the last four are built by the next part of issue 16.
pub const NAV: [(&str, Tri); 6] = [
    ("/cabinet/", ["Обзор", "Шолу", "Dashboard"]),
    (
        "/cabinet/operations",
        ["Операции", "Операциялар", "Operations"],
    ),
    ("/cabinet/cards", ["Карты", "Карталар", "Cards"]),
    (
        "/cabinet/terminals",
        ["Терминалы", "Терминалдар", "Terminals"],
    ),
    (
        "/cabinet/credentials",
        ["Ключи доступа", "Кіру кілттері", "Credentials"],
    ),
    ("/cabinet/sandbox", ["Песочница", "Құмсалғыш", "Sandbox"]),
];

pub fn t(words: &Tri, lang: Lang) -> &'static str {
    words[lang.index()]
}

pub const CABINET: Tri = ["Личный кабинет", "Жеке кабинет", "Merchant cabinet"];
pub const SANDBOX_BADGE: Tri = [
    "Песочница: тестовые данные",
    "Құмсалғыш: сынақ деректері",
    "Sandbox: test data",
];
pub const LOGOUT: Tri = ["Выйти", "Шығу", "Log out"];
pub const PASSWORD: Tri = ["Пароль", "Құпиясөз", "Password"];
pub const LANGUAGE: Tri = ["Язык", "Тіл", "Language"];

// The login page.
pub const LOGIN_TITLE: Tri = [
    "Вход в личный кабинет",
    "Жеке кабинетке кіру",
    "Log in to the cabinet",
];
pub const EMAIL: Tri = ["Электронная почта", "Электрондық пошта", "E-mail"];
pub const LOGIN_BUTTON: Tri = ["Войти", "Кіру", "Log in"];
pub const WRONG_LOGIN: Tri = [
    "Неверная почта или пароль.",
    "Пошта немесе құпиясөз қате.",
    "Wrong e-mail or password.",
];
pub const NOW_LOCKED: Tri = [
    "Слишком много неудачных попыток: вход заблокирован на 30 минут.",
    "Сәтсіз әрекеттер тым көп: кіру 30 минутқа бұғатталды.",
    "Too many failed attempts: this login is locked for 30 minutes.",
];
pub const LOCKED: Tri = [
    "Вход временно заблокирован после неудачных попыток. Повторите через {} мин.",
    "Сәтсіз әрекеттерден кейін кіру уақытша бұғатталды. {} минуттан кейін қайталаңыз.",
    "This login is locked after failed attempts. Try again in {} min.",
];
pub const DISABLED: Tri = [
    "Доступ этого продавца отключён.",
    "Бұл сатушының кіруі өшірілген.",
    "This merchant is disabled.",
];
pub const EXPIRED: Tri = [
    "Сеанс завершён. Войдите снова.",
    "Сеанс аяқталды. Қайта кіріңіз.",
    "Your session has ended. Please log in again.",
];

// The password page.
pub const PASSWORD_TITLE: Tri = ["Смена пароля", "Құпиясөзді өзгерту", "Change password"];
pub const CURRENT_PASSWORD: Tri = ["Текущий пароль", "Ағымдағы құпиясөз", "Current password"];
pub const NEW_PASSWORD: Tri = [
    "Новый пароль (не короче 10 символов)",
    "Жаңа құпиясөз (кемінде 10 таңба)",
    "New password (10 characters or more)",
];
pub const REPEAT_PASSWORD: Tri = [
    "Новый пароль ещё раз",
    "Жаңа құпиясөз қайтадан",
    "New password again",
];
pub const CHANGE: Tri = ["Сменить пароль", "Құпиясөзді өзгерту", "Change password"];
pub const CHANGED: Tri = [
    "Пароль изменён. Другие сеансы завершены.",
    "Құпиясөз өзгертілді. Басқа сеанстар аяқталды.",
    "Password changed. Your other sessions have ended.",
];
pub const WRONG_CURRENT: Tri = [
    "Текущий пароль неверен.",
    "Ағымдағы құпиясөз қате.",
    "The current password is wrong.",
];
pub const TOO_SHORT: Tri = [
    "Новый пароль должен быть не короче 10 символов.",
    "Жаңа құпиясөз кемінде 10 таңба болуы керек.",
    "The new password must be 10 characters or more.",
];
pub const MISMATCH: Tri = [
    "Новые пароли не совпадают.",
    "Жаңа құпиясөздер сәйкес емес.",
    "The new passwords differ.",
];

// The time zone form, on the password page.
pub const ZONE_TITLE: Tri = ["Часовой пояс", "Уақыт белдеуі", "Time zone"];
pub const ZONE_LABEL: Tri = [
    "Часовой пояс (имя IANA, например Asia/Almaty)",
    "Уақыт белдеуі (IANA атауы, мысалы Asia/Almaty)",
    "Time zone (an IANA name, such as Asia/Almaty)",
];
pub const ZONE_HINT: Tri = [
    "Время операций, дни обзора, фильтр по датам и CSV — в этом поясе.",
    "Операция уақыты, шолу күндері, күн сүзгісі және CSV осы белдеуде.",
    "Operation times, the dashboard's days, the date filter and the CSV use this zone.",
];
pub const ZONE_BUTTON: Tri = ["Сохранить", "Сақтау", "Save"];
pub const ZONE_SET: Tri = [
    "Часовой пояс сохранён.",
    "Уақыт белдеуі сақталды.",
    "Time zone saved.",
];
pub const BAD_ZONE: Tri = [
    "Такого часового пояса нет: введите имя IANA, например Asia/Almaty или Europe/London.",
    "Мұндай уақыт белдеуі жоқ: IANA атауын енгізіңіз, мысалы Asia/Almaty не Europe/London.",
    "No such time zone: enter an IANA name, such as Asia/Almaty or Europe/London.",
];

/// The operations list's and the operation page's words.
pub struct ListWords {
    pub search: &'static str,
    pub search_hint: &'static str,
    pub find: &'static str,
    pub filters: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub status: &'static str,
    pub any: &'static str,
    pub charged: &'static str,
    pub declined: &'static str,
    pub terminal: &'static str,
    pub invoice: &'static str,
    pub reference: &'static str,
    pub card: &'static str,
    pub account: &'static str,
    pub min: &'static str,
    pub max: &'static str,
    pub code: &'static str,
    pub apply: &'static str,
    pub reset: &'static str,
    pub export: &'static str,
    pub time: &'static str,
    pub amount: &'static str,
    pub fee: &'static str,
    pub cards: &'static str,
    pub none: &'static str,
    pub next: &'static str,
    pub first: &'static str,
    pub operation: &'static str,
    pub reason: &'static str,
}

const LIST_WORDS: [ListWords; 3] = [
    ListWords {
        search: "Поиск",
        search_hint: "Номер заказа, reference, intReference, id операции или маска карты",
        find: "Найти",
        filters: "Фильтры",
        from: "С даты",
        to: "По дату",
        status: "Статус",
        any: "Любой",
        charged: "Проведена",
        declined: "Отклонена",
        terminal: "Терминал",
        invoice: "Номер заказа",
        reference: "Reference",
        card: "Маска карты",
        account: "Клиент (accountID)",
        min: "Сумма от, ₸",
        max: "Сумма до, ₸",
        code: "Код причины",
        apply: "Применить",
        reset: "Сбросить",
        export: "Выгрузить CSV",
        time: "Время",
        amount: "Сумма",
        fee: "Комиссия",
        cards: "Карты",
        none: "Операций не найдено.",
        next: "Следующая страница →",
        first: "← К началу",
        operation: "Операция",
        reason: "Причина",
    },
    ListWords {
        search: "Іздеу",
        search_hint: "Тапсырыс нөмірі, reference, intReference, операция id немесе карта маскасы",
        find: "Табу",
        filters: "Сүзгілер",
        from: "Күннен бастап",
        to: "Күнге дейін",
        status: "Мәртебе",
        any: "Кез келген",
        charged: "Өтті",
        declined: "Қабылданбады",
        terminal: "Терминал",
        invoice: "Тапсырыс нөмірі",
        reference: "Reference",
        card: "Карта маскасы",
        account: "Клиент (accountID)",
        min: "Сомасы, ₸, бастап",
        max: "Сомасы, ₸, дейін",
        code: "Себеп коды",
        apply: "Қолдану",
        reset: "Тазалау",
        export: "CSV жүктеу",
        time: "Уақыты",
        amount: "Сомасы",
        fee: "Комиссия",
        cards: "Карталар",
        none: "Операциялар табылмады.",
        next: "Келесі бет →",
        first: "← Басына",
        operation: "Операция",
        reason: "Себебі",
    },
    ListWords {
        search: "Search",
        search_hint: "Invoice id, reference, intReference, operation id or card mask",
        find: "Find",
        filters: "Filters",
        from: "From",
        to: "To",
        status: "Status",
        any: "Any",
        charged: "Charged",
        declined: "Declined",
        terminal: "Terminal",
        invoice: "Invoice id",
        reference: "Reference",
        card: "Card mask",
        account: "Customer (accountID)",
        min: "Amount from, ₸",
        max: "Amount to, ₸",
        code: "Reason code",
        apply: "Apply",
        reset: "Reset",
        export: "Download CSV",
        time: "Time",
        amount: "Amount",
        fee: "Fee",
        cards: "Cards",
        none: "No operations found.",
        next: "Next page →",
        first: "← First page",
        operation: "Operation",
        reason: "Reason",
    },
];

pub fn list_words(lang: Lang) -> &'static ListWords {
    &LIST_WORDS[lang.index()]
}
