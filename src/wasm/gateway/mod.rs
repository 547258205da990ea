//! JavaScript bindings of the gateway (createGateway, verifyIdentity).
