// The function's storage account: shared keys off, TLS 1.2, no public blob access; reachable only through its
// private endpoints (network.bicep) when restrictPublicNetworkAccess is on.
param name string
param location string
param tags object = {}
param queueNames array
param tableNames array
@description('Every container anyone is granted a role on: a container-scoped role cannot create its container.')
param containerNames array
@description('Refuse the public endpoint (private endpoints only); off keeps today\'s public access.')
param restrictPublicNetworkAccess bool = false

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    publicNetworkAccess: restrictPublicNetworkAccess ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: restrictPublicNetworkAccess ? 'Deny' : 'Allow', bypass: 'AzureServices' }
  }

  resource queueService 'queueServices' = {
    name: 'default'
    resource queues 'queues' = [for queue in queueNames: { name: queue }]
  }

  resource tableService 'tableServices' = {
    name: 'default'
    resource tables 'tables' = [for table in tableNames: { name: table }]
  }

  resource blobService 'blobServices' = {
    name: 'default'
    resource containers 'containers' = [for container in containerNames: { name: container }]
  }
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
