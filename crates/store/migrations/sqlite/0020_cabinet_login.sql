-- The password grant (`grant_type=password`, for `POST /p2p/operations`) finds a merchant by
-- its cabinet login, which must therefore name one merchant. Logins are e-mail addresses,
-- compared without regard to case.
CREATE UNIQUE INDEX merchants_cabinet_email_key ON merchants (LOWER(cabinet_email))
    WHERE cabinet_email IS NOT NULL;
