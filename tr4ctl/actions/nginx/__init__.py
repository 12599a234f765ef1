"""nginx's config: put in place safely, switched (`nginx use`), inspected (`nginx status`)."""
