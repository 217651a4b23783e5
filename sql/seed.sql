-- The seven example advisors. Admins register real advisors the same way: a plain INSERT.
-- Run with: advisor-bot db seed            (or: advisor-bot db seed path/to/your_seed.sql)
INSERT INTO advisors (name, phone_number, twilio_phone_number, is_active) VALUES
    ('Ana Gómez', '+573001000001', '+14155238886', true),
    ('Bruno Díaz', '+573001000002', '+14155238887', true),
    ('Carla Restrepo', '+573001000003', '+14155238888', true),
    ('Diego Herrera', '+573001000004', '+14155238889', true),
    ('Elena Vargas', '+573001000005', '+14155238890', true),
    ('Felipe Castro', '+573001000006', '+14155238891', true),
    ('Gabriela Rojas', '+573001000007', '+14155238892', true);
