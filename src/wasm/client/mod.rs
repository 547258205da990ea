//! JavaScript bindings of the client (MeshClient).
