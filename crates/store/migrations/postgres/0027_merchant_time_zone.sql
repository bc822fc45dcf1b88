-- The merchant's time zone (issue 16, item 9): the cabinet shows times in it and counts the
-- dashboard's days and the date filter's range by it. An IANA name, checked by the server
-- (`chrono-tz`) where it is set; merchants that existed before keep Asia/Almaty, the default.
ALTER TABLE merchants ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Asia/Almaty';
