-- remove mail servers from templates
UPDATE mail_template
   SET mail_server_id = NULL;

-- deactivate fetchmail servers
UPDATE fetchmail_server
   SET active = false;
