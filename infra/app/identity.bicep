// The function's user-assigned identity: it runs the app, reads its storage, publishes events, writes secrets,
// and is the app registration's federated credential (secretless sign-in to Partner Center).
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
