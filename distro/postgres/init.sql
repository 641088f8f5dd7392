-- Run by the postgres image on its first start (an empty data volume): one database per Beacon service,
-- owned by the compose user. Each service applies its own migrations at start.
CREATE DATABASE beacon_proxy OWNER beacon;
CREATE DATABASE beacon_gateway OWNER beacon;
CREATE DATABASE beacon_fleet OWNER beacon;
